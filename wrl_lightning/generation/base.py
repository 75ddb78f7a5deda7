"""The generator interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from wrl_lightning.data.records import Requirement


@dataclass
class GenerationRequest:
    """One prompt to answer.

    ``prompt`` is the full user message; ``requirements`` are the requirements it asks for (the ``edit``
    generator writes a response that keeps exactly these); ``dropped`` are the prompt's other requirements,
    which the ``edit`` generator breaks where it can (other generators ignore it); ``request_id`` is a stable
    key used for caching and resuming; ``seed`` makes sampling reproducible per request.
    """

    prompt: str
    request_id: str
    requirements: list[Requirement] = field(default_factory=list)
    seed: int | None = None
    dropped: list[Requirement] = field(default_factory=list)


class Generator(ABC):
    """Turns requests into response texts, in the same order."""

    @abstractmethod
    def generate(self, requests: Sequence[GenerationRequest]) -> list[str]:
        """One response text per request."""


class NextTokenScorer(ABC):
    """A backend that reads its model's next-token distribution after a prompt (one forward pass, no sampling):
    local models; text-only endpoints cannot."""

    @abstractmethod
    def token_ids_after(self, prefix: str, candidates: Sequence[str]) -> list[int]:
        """The single token id each candidate takes right after ``prefix``; ValueError when it is not one token."""

    @abstractmethod
    def next_token_logprobs(self, prompts: Sequence[str], prefix: str, token_ids: Sequence[int]) -> list[list[float]]:
        """Per prompt, the log-probability of each of ``token_ids`` as the next token once the answer to the prompt
        starts with ``prefix``."""

"""Reward sources of the policy stage: ``(prompts, completions) -> one reward per completion``.

Configs in ``conf/reward/`` build them (``_target_``); the stage combines a weighted list, logging each source.
A source may return NaN for a completion it cannot judge (e.g. ``rule`` on a prompt with no verifiable
requirement); the weighted sum skips NaN terms, and a completion no source judged gets NaN, which GRPO's
advantages treat as "no signal" (advantage 0).

- ``rm_per_requirement`` — the WRL reward: mean RM P(adheres) over the prompt's requirements, through a
  resident RM (:class:`~wrl_lightning.scoring.resident.ResidentRM`) that re-tokenises with its own tokenizer
  and template.
- ``rm_whole_prompt`` — the paper's released RL reward: the whole prompt as one "constraint".
- ``format`` — 1 when the output is ``<think>…</think><answer>…</answer>``, else 0.
- ``rule`` — the fraction of the prompt's verifiable requirements the completion keeps (rule checkers).
- ``hybrid_per_requirement`` — per requirement the rule verdict where a checker exists, the RM where not; mean.

RM sources take ``answer_only``: score only the ``<answer>`` part, and give 0 to an output without the
think/answer form (the paper's gating).
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch

from wrl_lightning.requirements.checkers import check_requirement
from wrl_lightning.rl.prompts import RLPrompt

_FORMAT = re.compile(r"^\s*<think>.*?</think>\s*<answer>(.*?)</answer>\s*$", re.DOTALL)


def extract_answer(text: str) -> str | None:
    """The ``<answer>`` part of a ``<think>…</think><answer>…</answer>`` output, else None."""
    match = _FORMAT.match(text)
    return match.group(1).strip() if match else None


class RewardSource(ABC):
    """One reward signal. ``setup(device)`` is called once on each rank before the first call."""

    def setup(self, device: torch.device) -> None:  # noqa: B027  (most sources need nothing)
        """Load what the source needs onto ``device`` (default: nothing)."""

    @abstractmethod
    def __call__(self, prompts: Sequence[RLPrompt], completions: Sequence[str]) -> list[float]:
        """One reward per (prompt, completion)."""


class FormatReward(RewardSource):
    """1.0 when the output has the ``<think>…</think><answer>…</answer>`` form, else 0.0."""

    def __call__(self, prompts: Sequence[RLPrompt], completions: Sequence[str]) -> list[float]:
        return [float(extract_answer(text) is not None) for text in completions]


class RuleReward(RewardSource):
    """The fraction of the prompt's verifiable requirements the completion keeps (NaN if it has none)."""

    def __call__(self, prompts: Sequence[RLPrompt], completions: Sequence[str]) -> list[float]:
        rewards = []
        for prompt, text in zip(prompts, completions, strict=True):
            checks = [check_requirement(r, text, prompt=prompt.text) for r in prompt.verifiable]
            rewards.append(sum(checks) / len(checks) if checks else math.nan)
        return rewards


class _RMReward(RewardSource):
    """A reward from a resident classifier RM (loaded on ``setup``).

    Args:
        model: the RM (an export of ``stage=rm``, a released checkpoint, or ``embedded:NAME``).
        answer_only: score the ``<answer>`` part only; outputs without the think/answer form get 0.
        options: passed to :class:`~wrl_lightning.scoring.resident.ResidentRM` (batch_size, max_tokens, ...).
    """

    def __init__(self, model: str, answer_only: bool = False, trust_remote_code: bool = False, **options: Any):
        self.model_name, self.answer_only, self.trust_remote_code, self.options = model, answer_only, trust_remote_code, options
        self.rm = None

    def setup(self, device: torch.device) -> None:
        from wrl_lightning.scoring.resident import ResidentRM

        if self.rm is None:
            self.rm = ResidentRM.load(self.model_name, trust_remote_code=self.trust_remote_code, device=device, **self.options)

    def answers(self, completions: Sequence[str]) -> list[str | None]:
        """What the RM judges: the completion, or its answer part (None: no think/answer form)."""
        return [extract_answer(t) for t in completions] if self.answer_only else list(completions)

    def mean_over(self, answers: list[str | None], per_answer: list[list[str]]) -> list[float]:
        """Mean RM score of each answer over its requirement texts (0 for a missing answer)."""
        pairs = [(a, req) for a, reqs in zip(answers, per_answer, strict=True) if a is not None for req in reqs]
        scores = iter(self.rm.score_pairs([p[0] for p in pairs], [p[1] for p in pairs]) if pairs else [])
        means = []
        for answer, reqs in zip(answers, per_answer, strict=True):
            values = [next(scores) for _ in reqs] if answer is not None else []
            means.append(sum(values) / len(values) if values else 0.0)
        return means


class RMPerRequirementReward(_RMReward):
    """The WRL reward: mean RM P(adheres) over the prompt's requirements."""

    def __call__(self, prompts: Sequence[RLPrompt], completions: Sequence[str]) -> list[float]:
        return self.mean_over(self.answers(completions), [[r.text for r in p.requirements] for p in prompts])


class RMWholePromptReward(_RMReward):
    """The paper's released RL reward: RM P(adheres) of the answer against the whole prompt."""

    def __call__(self, prompts: Sequence[RLPrompt], completions: Sequence[str]) -> list[float]:
        return self.mean_over(self.answers(completions), [[p.text] for p in prompts])


class HybridPerRequirementReward(_RMReward):
    """Per requirement: the rule verdict where a checker exists, the RM's P(adheres) where not; mean."""

    def __call__(self, prompts: Sequence[RLPrompt], completions: Sequence[str]) -> list[float]:
        answers = self.answers(completions)
        soft = self.mean_over(answers, [[r.text for r in p.requirements if not r.checker] for p in prompts])
        rewards = []
        for prompt, answer, rm_mean in zip(prompts, answers, soft, strict=True):
            if answer is None:
                rewards.append(0.0)
                continue
            rules = [float(check_requirement(r, answer, prompt=prompt.text)) for r in prompt.verifiable]
            n_soft = len(prompt.requirements) - len(rules)
            rewards.append((sum(rules) + rm_mean * n_soft) / len(prompt.requirements))
        return rewards


def combine(parts: dict[str, list[float]], weights: dict[str, float]) -> torch.Tensor:
    """The weighted sum over sources per completion, skipping NaN terms (NaN where every term is NaN)."""
    stacked = torch.tensor([parts[name] for name in parts], dtype=torch.float32)
    weight = torch.tensor([weights.get(name, 1.0) for name in parts], dtype=torch.float32)[:, None]
    total = torch.nansum(stacked * weight, dim=0)
    return total.masked_fill(torch.isnan(stacked).all(dim=0), math.nan)

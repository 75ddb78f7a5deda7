"""Loading and input resolution shared by the classifier scorers and the resident RM, so a checkpoint is
read the same way wherever it scores.

- Weights load in float32 whatever dtype the checkpoint was saved in (Qwen2.5 ships bf16, and so do exports
  with ``rm.export.dtype: bfloat16``): the caller's precision (Lightning's, or autocast) picks the compute
  dtype, so a bf16 export is not scored in bf16 on a CPU.
- A pair RM's template, head and input length come from the arguments, else from the checkpoint:
  ``wrl_template`` and ``wrl_max_length`` (stored by exports of stage=rm) and ``num_labels`` (2: ``p1``,
  1: ``sigmoid``).
- ``packing`` (``auto`` | ``on`` | ``off``): score every requirement of a response in one packed forward
  (:mod:`wrl_lightning.models.packing`); ``auto`` packs for decoder classifiers whose template ends with
  ``{requirement}``. Scores equal the one-pair path's up to float rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from wrl_lightning.models.loading import load_sequence_classifier, load_tokenizer
from wrl_lightning.models.packing import resolve_packing
from wrl_lightning.models.rm_inputs import encode_pairs, ensure_pad_token
from wrl_lightning.models.templates import RM_TEMPLATES, get_template

#: RM input length when neither the caller nor the checkpoint (``wrl_max_length``) gives one.
DEFAULT_MAX_LENGTH = 512


def share_pad_token(model: torch.nn.Module, tokenizer: Any) -> None:
    """Give the tokenizer a pad token if it has none, and the model its id, so batches can be padded."""
    ensure_pad_token(tokenizer)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id


def load_classifier(name: str, trust_remote_code: bool = False) -> tuple[torch.nn.Module, Any]:
    """A sequence classifier (path, hub id or ``embedded:NAME``) with float32 weights, and its tokenizer."""
    tokenizer = load_tokenizer(name, trust_remote_code=trust_remote_code)
    model = load_sequence_classifier(name, trust_remote_code=trust_remote_code, dtype=torch.float32)
    share_pad_token(model, tokenizer)
    return model, tokenizer


def input_length(model: torch.nn.Module, tokenizer: Any, requested: int | None) -> int:
    """``requested``, else the length the checkpoint was trained with, else 512; clamped to what the model's
    positions and the tokenizer allow."""
    wanted = requested or getattr(model.config, "wrl_max_length", None) or DEFAULT_MAX_LENGTH
    positions = getattr(model.config, "max_position_embeddings", None)
    limits = [wanted, positions, getattr(tokenizer, "model_max_length", None)]
    return min(int(v) for v in limits if v)


@dataclass
class RMInputs:
    """How a (response, requirement) RM reads pairs and what its score is: template, input length, head, and
    whether pairs are scored packed (one forward per response, :mod:`wrl_lightning.models.packing`)."""

    tokenizer: Any
    template: str
    max_length: int
    head: str
    packing: bool = False

    @classmethod
    def resolve(cls, model: torch.nn.Module, tokenizer: Any, template: str | None = None,
                head: str | None = None, max_length: int | None = None,
                packing: str | bool | None = "auto") -> RMInputs:
        """The given values, else the checkpoint's (see the module docstring), else the paper's template
        and 512 tokens; ``packing`` as :func:`~wrl_lightning.models.packing.resolve_packing`."""
        config = model.config
        template = template or getattr(config, "wrl_template", None) or "paper"
        template = get_template(RM_TEMPLATES, template, "scorer.template")
        head = head or ("sigmoid" if config.num_labels == 1 else "p1")
        length = input_length(model, tokenizer, max_length)
        return cls(tokenizer, template, length, head, resolve_packing(packing, model, template, length))

    def score(self, responses: Sequence[str], requirements: Sequence[str],
              predict: Callable[[list[list[int]]], list[float]], round_decimals: int | None = None,
              predict_packed: Callable[[list[list[int]], list[str]], list[float]] | None = None) -> list[float]:
        """One score per (response, requirement), in order: identical pairs are encoded and predicted once
        (``predict`` maps token rows to scores in order; with :attr:`packing`, ``predict_packed`` maps token
        rows and each row's response to them); ``round_decimals`` rounds them."""
        pairs = list(zip(responses, requirements, strict=True))
        unique = list(dict.fromkeys(pairs))
        if not unique:
            return []
        texts, constraints = [p[0] for p in unique], [p[1] for p in unique]
        rows = encode_pairs(self.tokenizer, self.template, texts, constraints, self.max_length)
        if self.packing and predict_packed is not None:
            values = predict_packed(rows, texts)
        else:
            values = predict(rows)
        scores = dict(zip(unique, values, strict=True))
        if round_decimals is not None:
            scores = {pair: round(value, round_decimals) for pair, value in scores.items()}
        return [scores[pair] for pair in pairs]

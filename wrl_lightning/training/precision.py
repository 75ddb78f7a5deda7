"""The one precision resolver: what ``precision: auto`` (or null) means on the hardware at hand."""

from __future__ import annotations

from typing import Any

import torch

#: Values that ask the project to choose.
AUTO = (None, "auto")


def resolve_precision(precision: Any, accelerator: str = "auto") -> Any:
    """``auto``/None: bf16-mixed on a CUDA GPU (fp32 master weights), 32-true on CPU (bf16 is ~25x slower
    on CPUs); any other value is passed to Lightning unchanged."""
    if precision not in AUTO:
        return precision
    wants_gpu = accelerator in ("auto", "gpu", "cuda")
    return "bf16-mixed" if wants_gpu and torch.cuda.is_available() else "32-true"


def load_dtype(trainer: Any) -> torch.dtype:
    """The dtype to load trainable weights in: bf16 only where DeepSpeed's bf16 mode keeps fp32 master weights
    itself (ZeRO's optimizer); float32 everywhere else, so AdamW's small updates are not rounded away."""
    from wrl_lightning.training.deepspeed import is_deepspeed

    strategy = getattr(trainer, "strategy", None)
    if is_deepspeed(strategy) and str(getattr(strategy.precision_plugin, "precision", "")).startswith("bf16"):
        return torch.bfloat16
    return torch.float32

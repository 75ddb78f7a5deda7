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

"""Score heads: how a sequence classifier's logits become one score per row (training and scoring alike)."""

from __future__ import annotations

from collections.abc import Callable

import torch

#: Reductions of classifier logits to one score per row.
HEADS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "p1": lambda logits: torch.softmax(logits, dim=-1)[:, 1],  # 2-label classifier: P(label 1)
    "sigmoid": lambda logits: torch.sigmoid(logits[:, 0]),     # 1-label classifier trained with BCE
    "logit": lambda logits: logits[:, 0],                        # scalar reward model
}

"""The per-batch forward and the call statistics shared by the Trainer scoring path (``scoring/sequence.py``)
and the resident RM (``scoring/resident.py``); free of Lightning, so the resident RM (and the RM server's
workers) import fast."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from wrl_lightning.models.rm_inputs import padding_efficiency


def batch_scores(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 head: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """One score per row of a padded batch (logits in float32 before the head)."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
    return head(logits.float())


def batch_stats(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> dict[str, float]:
    """What one scoring call did: padding efficiency, batches, sequences, tokens."""
    return {"padding_efficiency": padding_efficiency(lengths, batches), "n_batches": len(batches),
            "n_sequences": len(lengths), "n_tokens": sum(lengths)}

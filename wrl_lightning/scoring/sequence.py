"""Batched sequence-classifier scoring through Lightning's predict loop (every given device is used).

Inputs are token-id rows; they are grouped by length under a token budget, each rank predicts its share of
the batches, and the results are gathered back in input order. The per-batch forward and the call stats
(``scoring/batches.py``) are shared with the resident RM, which scores on one device without a Trainer.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from wrl_lightning.models.heads import HEADS
from wrl_lightning.models.rm_inputs import length_grouped_batches, pad_batch
from wrl_lightning.scoring.batches import batch_scores, batch_stats
from wrl_lightning.training.distributed import all_gather_objects
from wrl_lightning.training.precision import resolve_precision


class _Batches(Dataset):
    """Pre-formed batches of token rows (one item = one padded batch)."""

    def __init__(self, rows: Sequence[list[int]], batches: Sequence[list[int]], pad_id: int):
        self.rows, self.batches, self.pad_id = rows, batches, pad_id

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, k: int):
        index = self.batches[k]
        return pad_batch([self.rows[i] for i in index], index, self.pad_id)


class _ShardedBatches(pl.LightningDataModule):
    """Gives each rank every world_size-th batch."""

    def __init__(self, rows, batches, pad_id):
        super().__init__()
        self.rows, self.batches, self.pad_id = rows, batches, pad_id

    def predict_dataloader(self) -> DataLoader:
        rank, world = self.trainer.global_rank, self.trainer.world_size
        return DataLoader(_Batches(self.rows, self.batches[rank::world], self.pad_id), batch_size=None)


class SequenceScoringModule(pl.LightningModule):
    """Wraps an HF sequence classifier; ``predict_step`` returns (row index, score)."""

    def __init__(self, model: torch.nn.Module, head: str = "p1"):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head must be one of {sorted(HEADS)}, got {head!r}")
        self.model, self.head = model, HEADS[head]

    def predict_step(self, batch, batch_idx: int):
        return batch.index, batch_scores(self.model, batch.input_ids, batch.attention_mask, self.head)


def predict_scores(
    model: torch.nn.Module,
    rows: Sequence[list[int]],
    pad_id: int,
    head: str = "p1",
    batch_size: int = 64,
    max_tokens: int | None = None,
    trainer_kwargs: dict | None = None,
) -> tuple[list[float], dict[str, float]]:
    """Scores for ``rows`` (in order) and run stats (:func:`batch_stats`)."""
    lengths = [len(r) for r in rows]
    batches = length_grouped_batches(lengths, batch_size, max_tokens)
    kwargs = {
        "accelerator": "auto",
        "devices": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_model_summary": False,
        "enable_progress_bar": False,
        "use_distributed_sampler": False,
        **(trainer_kwargs or {}),
    }
    kwargs["precision"] = resolve_precision(kwargs.get("precision"), str(kwargs["accelerator"]))
    trainer = pl.Trainer(**kwargs)
    outputs = trainer.predict(SequenceScoringModule(model.eval(), head), datamodule=_ShardedBatches(rows, batches, pad_id))
    outputs = _gather(outputs or [])
    scores = [0.0] * len(rows)
    for index, values in outputs:
        for i, value in zip(index.tolist(), values.tolist(), strict=True):
            scores[i] = value
    return scores, batch_stats(lengths, batches)


def _gather(outputs: list) -> list:
    """All ranks' (index, score) outputs on every rank (identity on one process)."""
    local = [(index.cpu(), values.cpu()) for index, values in outputs]
    return [item for part in all_gather_objects(local) for item in part]

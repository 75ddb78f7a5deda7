"""Lightning callbacks of RM training.

- ``WEvalCallback``: ranks the validation WEval groups with the scores of the validation pass and logs
  ``val/weval/kendall_tau``, ``position_consistency``, ``exact_match``, … (a ModelCheckpoint monitor).
"""

from __future__ import annotations

import logging
from typing import Any

import pytorch_lightning as pl
import torch

from wrl_lightning.data.scores import assemble_group_scores
from wrl_lightning.errors import ConfigError
from wrl_lightning.training.distributed import all_gather_objects
from wrl_lightning.weval.metrics import evaluate

log = logging.getLogger(__name__)

#: evaluate() keys logged under ``val/weval/``.
WEVAL_KEYS = ("kendall_tau", "position_consistency", "exact_match", "pair_accuracy", "n_tied_groups", "n_groups")


class WEvalCallback(pl.Callback):
    """WEval ranking metrics of the datamodule's ``weval_groups`` after each validation pass.

    Validation rows carry ``items`` (index into ``datamodule.weval_items``, -1 = none); ``validation_step``
    returns their ``scores``. A response's score is the mean over its requirements, as in the paper.
    """

    def __init__(self, ties: str = "random", prefix: str = "val/weval/"):
        self.ties, self.prefix = ties, prefix
        self._items: list[torch.Tensor] = []
        self._scores: list[torch.Tensor] = []

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        groups = getattr(trainer.datamodule, "weval_groups", None)
        monitors = [cb.monitor for cb in trainer.checkpoint_callbacks if getattr(cb, "monitor", None)]
        if not groups and any(str(m).startswith(self.prefix) for m in monitors):
            raise ConfigError(
                "callbacks.model_checkpoint.monitor",
                f"{monitors[0]} needs WEval validation groups: use a group format (data.format=levels|canonical) "
                "with data.val_fraction>0, or set data.weval_input=FILE, or monitor another metric (e.g. val/auroc)",
            )

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        chosen = batch["items"] >= 0
        if chosen.any():
            self._items.append(batch["items"][chosen].cpu())
            self._scores.append(outputs["scores"][chosen].detach().float().cpu())

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        items, scores = self._items, self._scores
        self._items, self._scores = [], []
        datamodule = trainer.datamodule
        groups = getattr(datamodule, "weval_groups", None)
        if trainer.sanity_checking or not groups:
            return
        local = (torch.cat(items) if items else torch.empty(0, dtype=torch.long),
                 torch.cat(scores) if scores else torch.empty(0))
        values = [float("nan")] * len(datamodule.weval_items)
        for part_items, part_scores in all_gather_objects(local):
            for i, s in zip(part_items.tolist(), part_scores.tolist(), strict=True):
                values[i] = s
        missing = sum(v != v for v in values)
        if missing:  # a partial pass (limit_val_batches): rank only the complete groups
            log.warning("WEval: %d of %d items were not scored in this validation pass", missing, len(values))
        metrics = self.evaluate(groups, datamodule.weval_items, values)
        pl_module.log_dict({f"{self.prefix}{k}": float(metrics[k]) for k in WEVAL_KEYS if k in metrics})

    def evaluate(self, groups, items: list[tuple[int, int, int]], values: list[float]) -> dict[str, Any]:
        """WEval metrics of the groups whose items all have a score."""
        complete = set(range(len(groups)))
        for (g, _, _), value in zip(items, values, strict=True):
            if value != value:
                complete.discard(g)
        if not complete:
            return {}
        keep = sorted(complete)
        renumber = {g: k for k, g in enumerate(keep)}
        chosen = [(renumber[g], r, q, v) for (g, r, q), v in zip(items, values, strict=True) if g in renumber]
        subset = [groups[g] for g in keep]
        scored = assemble_group_scores(subset, [c[:3] for c in chosen], [c[3] for c in chosen])
        metrics, _ = evaluate(subset, scored, ties=self.ties, bootstrap_resamples=0)
        return metrics

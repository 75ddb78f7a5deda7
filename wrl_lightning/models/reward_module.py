"""The fine-grained reward model as a LightningModule: an HF sequence classifier over (response, requirement).

- ``num_labels=2`` (the paper's form): cross-entropy, score = softmax P(label 1); ``num_labels=1``: BCE,
  score = sigmoid. The losses are a registry keyed by ``num_labels``.
- The HF model is built in ``configure_model()`` so strategies can shard it; under DeepSpeed ZeRO-3,
  transformers' ``HfDeepSpeedConfig`` is kept alive while it is built.
- Optional LoRA (peft) and gradient checkpointing; optimizer and scheduler are ``_partial_`` configs.
- Validation metrics (torchmetrics): loss, accuracy, AUROC, F1 and calibration error, overall and per
  requirement type; ``validation_step`` returns the scores so callbacks (WEval) can use them.
- Packed training (``packing``: auto | on | off, :mod:`wrl_lightning.models.packing`): a decoder RM reads
  every requirement of a response in one sequence, the response's tokens once; the loss is the same per pair
  (same logits up to float rounding, so the same gradients), for fewer tokens. ``packs`` tells the datamodule
  to batch that way; a batch with ``segments`` is packed, any other is one pair per row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import Metric, MetricCollection
from torchmetrics.aggregation import MeanMetric
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC, BinaryCalibrationError, BinaryF1Score

from wrl_lightning.data.taxonomy import REQUIREMENT_TYPES
from wrl_lightning.errors import ConfigError
from wrl_lightning.models.backbone import BackboneModule, plain_data
from wrl_lightning.models.heads import HEADS
from wrl_lightning.models.loading import load_classifier_to_train
from wrl_lightning.models.packing import (
    PackedBatch,
    packed_logits,
    packing_mode,
    packing_problem,
    resolve_packing,
)
from wrl_lightning.models.templates import RM_TEMPLATES, get_template


@dataclass(frozen=True)
class Objective:
    """How a head of ``num_labels`` outputs is trained and read: loss(logits, labels) and a score head."""

    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    head: str  # a key of models.heads.HEADS (the scorer reads exported checkpoints the same way)


#: Training objectives keyed by ``num_labels``.
OBJECTIVES: dict[int, Objective] = {
    2: Objective(lambda logits, labels: F.cross_entropy(logits, labels), "p1"),
    1: Objective(lambda logits, labels: F.binary_cross_entropy_with_logits(logits[:, 0], labels.float()), "sigmoid"),
}


class _TypeCounts(Metric):
    """Labelled rows seen per requirement type (summed over ranks)."""

    def __init__(self, n_types: int):
        super().__init__()
        self.add_state("counts", torch.zeros(n_types, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, type_ids: torch.Tensor) -> None:
        self.counts += torch.bincount(type_ids, minlength=len(self.counts))

    def compute(self) -> torch.Tensor:
        return self.counts


def _binary_metrics(prefix: str) -> MetricCollection:
    """Accuracy, AUROC, F1 and expected calibration error; label -1 rows are ignored."""
    return MetricCollection({
        "acc": BinaryAccuracy(ignore_index=-1),
        "auroc": BinaryAUROC(ignore_index=-1),
        "f1": BinaryF1Score(ignore_index=-1),
        "ece": BinaryCalibrationError(n_bins=10, ignore_index=-1),
    }, prefix=prefix)


class TypedBinaryMetrics(nn.Module):
    """Binary metrics overall and per requirement type; types without labelled rows are left out."""

    def __init__(self, prefix: str, type_names: Sequence[str] = tuple(REQUIREMENT_TYPES)):
        super().__init__()
        self.prefix, self.type_names = prefix, list(type_names)
        self.overall = _binary_metrics(prefix)
        self.by_type = nn.ModuleList(_binary_metrics(f"{prefix}type/{name}/") for name in self.type_names)
        self.counts = _TypeCounts(len(self.type_names))

    def update(self, scores: torch.Tensor, labels: torch.Tensor, type_ids: torch.Tensor) -> None:
        self.overall.update(scores, labels)
        for k, metrics in enumerate(self.by_type):
            metrics.update(scores, torch.where(type_ids == k, labels, -1))
        self.counts.update(type_ids[labels >= 0])

    def compute(self) -> dict[str, float]:
        counts = self.counts.compute()
        if counts.sum() == 0:
            return {}
        values = dict(self.overall.compute())
        values[f"{self.prefix}n"] = counts.sum()
        for k, metrics in enumerate(self.by_type):
            if counts[k] > 0:
                values.update(metrics.compute())
                values[f"{self.prefix}type/{self.type_names[k]}/n"] = counts[k]
        return {key: float(value) for key, value in values.items()}

    def reset(self) -> None:
        self.overall.reset()
        self.counts.reset()
        for metrics in self.by_type:
            metrics.reset()


class RewardLitModule(BackboneModule):
    """A (response, requirement) -> P(kept) classifier.

    Args:
        model_name: backbone (hub id, folder or ``embedded:NAME``).
        optimizer: partial optimizer (``optimizer(params=...)``).
        scheduler: partial HF scheduler (``scheduler(optimizer=, num_warmup_steps=, num_training_steps=)``) or None.
        num_labels: 2 (paper: cross-entropy, P(label 1)) or 1 (BCE, sigmoid).
        template: RM template name or format string; stored in the exported checkpoint.
        warmup_ratio: fraction of the optimizer steps used for warmup.
        lora: peft ``LoraConfig`` keyword arguments, or None for full fine-tuning.
        gradient_checkpointing: recompute activations in backward (less memory, ~30% slower).
        disable_dropout: set every dropout probability of the backbone to 0 (as reward-model trainers usually
            do; on CPU it also keeps attention on SDPA's fused kernel, ~30% faster steps).
        attn_implementation: transformers attention backend (``sdpa``, ``eager``, ``flash_attention_2``).
        dtype: weight dtype to load. None follows :func:`~wrl_lightning.training.precision.load_dtype`:
            float32 (the optimizer then updates fp32 master weights; mixed precision comes from
            ``trainer.precision``), except bf16 under a DeepSpeed strategy with bf16 precision, whose engine keeps
            its own fp32 master copy. A bf16 checkpoint (Qwen2.5
            ships bf16) is never trained in bf16 by accident.
        trust_remote_code: allow custom model code from the checkpoint.
        packing: ``auto`` packs a response's requirements into one sequence for decoder classifiers whose
            template ends with ``{requirement}`` (not for encoders); ``on`` always (an error if the model cannot,
            e.g. flash attention); ``off`` never. Resolved into :attr:`packs` when the model is built.
    """

    def __init__(self, model_name: str, optimizer: Callable[..., torch.optim.Optimizer],
                 scheduler: Callable[..., Any] | None = None, num_labels: int = 2, template: str = "paper",
                 warmup_ratio: float = 0.0, lora: dict[str, Any] | None = None, gradient_checkpointing: bool = False,
                 disable_dropout: bool = True, attn_implementation: str | None = "sdpa", dtype: str | None = None,
                 trust_remote_code: bool = False, packing: str | bool | None = "auto"):
        super().__init__(optimizer, scheduler)
        if num_labels not in OBJECTIVES:
            raise ConfigError("model.rm.num_labels", f"must be one of {sorted(OBJECTIVES)}, got {num_labels}")
        try:
            packing = packing_mode(packing)
        except ValueError as err:
            raise ConfigError("model.rm.packing", str(err)) from None
        lora = plain_data(lora)
        # optimizer/scheduler are callables: kept out of the checkpoint so it loads with weights_only=True
        self.save_hyperparameters(logger=False, ignore=["optimizer", "scheduler"])
        self.template = get_template(RM_TEMPLATES, template, "model.rm.template")
        self.objective = OBJECTIVES[num_labels]
        self.train_acc = BinaryAccuracy()
        self.val_loss = MeanMetric()
        self.val_metrics = TypedBinaryMetrics("val/")
        self.packs = False
        self._packing_problem: str | None = None

    def configure_model(self) -> None:
        """Build the HF classifier (once), with LoRA / gradient checkpointing."""
        if self.model is not None:
            return
        model = self.build_backbone(load_classifier_to_train, "SEQ_CLS", num_labels=self.hparams.num_labels)
        if model.config.pad_token_id is None:
            model.config.pad_token_id = self.tokenizer.pad_token_id
        self._packing_problem = packing_problem(model)
        try:
            self.packs = resolve_packing(self.hparams.packing, model, self.template)
        except ValueError as err:
            raise ConfigError("model.rm.packing", str(err)) from None
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Classifier logits (float32)."""
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits.float()

    def batch_logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits (float32) of a batch's pairs, in the order of its ``labels``: one per row, or one per pair
        read of a packed batch (one with ``segments``)."""
        if "segments" not in batch:
            return self(batch["input_ids"], batch["attention_mask"])
        if self._packing_problem:
            raise ConfigError("data.packing", f"a packed batch came, but {self._packing_problem}")
        return packed_logits(self.model, PackedBatch.from_dict(batch))

    def score(self, logits: torch.Tensor) -> torch.Tensor:
        """P(kept) from logits."""
        return HEADS[self.objective.head](logits)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        logits = self.batch_logits(batch)
        loss = self.objective.loss(logits, batch["labels"])
        n = len(batch["labels"])
        self.train_acc(self.score(logits.detach()), batch["labels"])
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=n, sync_dist=True)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True, batch_size=n)
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        logits = self.batch_logits(batch)
        labels = batch["labels"]
        labelled = labels >= 0
        if labelled.any():
            self.val_loss.update(self.objective.loss(logits[labelled], labels[labelled]), weight=int(labelled.sum()))
        scores = self.score(logits)
        self.val_metrics.update(scores, labels, batch["type_ids"])
        return {"scores": scores}

    def on_validation_epoch_end(self) -> None:
        values = self.val_metrics.compute()
        if values:
            values["val/loss"] = float(self.val_loss.compute())
            shown = {key: values.pop(key) for key in ("val/loss", "val/auroc")}
            self.log_dict(shown, prog_bar=True)
            self.log_dict(values)
        self.val_metrics.reset()
        self.val_loss.reset()

    def fresh_copy(self) -> RewardLitModule:
        """A new module with the same arguments (its model not built yet)."""
        return RewardLitModule(optimizer=self.optimizer_factory, scheduler=self.scheduler_factory, **self.hparams)

"""The SFT baseline as a LightningModule: a causal LM trained on response tokens only (next-token cross-entropy).

- Batches come from :class:`~wrl_lightning.models.sft_data.SFTDataModule`: labels are the input ids with -100
  on prompt and padding positions. The loss is the mean over a batch's response tokens; logits are taken at
  response positions only before the float32 cross-entropy.
- The HF model is built in ``configure_model()`` (strategies can shard it), as the RM's: optional LoRA (peft,
  merged at export), gradient checkpointing, dropout off by default, the RM's load dtype rule.
- Validation: token-weighted loss and next-token accuracy over all held-out response tokens (summed over ranks).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torchmetrics.aggregation import MeanMetric, SumMetric

from wrl_lightning.models.backbone import BackboneModule, plain_data
from wrl_lightning.models.loading import load_causal_lm
from wrl_lightning.models.sft_data import IGNORE


def response_token_stats(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(summed NLL, correct argmax predictions, counted tokens) of next-token prediction where ``labels`` is not
    :data:`IGNORE` (position t predicts label t+1)."""
    targets = labels[:, 1:]
    counted = targets != IGNORE
    picked = logits[:, :-1][counted].float()
    wanted = targets[counted]
    nll = F.cross_entropy(picked, wanted, reduction="sum")
    return nll, (picked.argmax(dim=-1) == wanted).sum(), counted.sum()


class SFTLitModule(BackboneModule):
    """A causal LM fine-tuned on (prompt, response) examples, the loss on response tokens.

    Args:
        model_name: model (hub id, folder or ``embedded:NAME``).
        optimizer: partial optimizer (``optimizer(params=...)``).
        scheduler: partial HF scheduler (``scheduler(optimizer=, num_warmup_steps=, num_training_steps=)``) or None.
        warmup_ratio: fraction of the optimizer steps used for warmup.
        lora: peft ``LoraConfig`` keyword arguments, or None for full fine-tuning.
        gradient_checkpointing: recompute activations in backward (less memory, slower).
        disable_dropout: set every dropout probability of the model to 0.
        attn_implementation: transformers attention backend (``sdpa``, ``eager``, ``flash_attention_2``).
        dtype: weight dtype to load; None follows :func:`~wrl_lightning.training.precision.load_dtype`
            (float32, bf16 only under DeepSpeed bf16, whose optimizer keeps fp32 master weights).
        trust_remote_code: allow custom model code from the checkpoint.
    """

    def __init__(self, model_name: str, optimizer: Callable[..., torch.optim.Optimizer],
                 scheduler: Callable[..., Any] | None = None, warmup_ratio: float = 0.0,
                 lora: dict[str, Any] | None = None, gradient_checkpointing: bool = False, disable_dropout: bool = True,
                 attn_implementation: str | None = "sdpa", dtype: str | None = None, trust_remote_code: bool = False):
        super().__init__(optimizer, scheduler)
        lora = plain_data(lora)  # plain types only: the checkpoint then loads with weights_only=True
        # optimizer/scheduler are callables: kept out of the checkpoint so it loads with weights_only=True
        self.save_hyperparameters(logger=False, ignore=["optimizer", "scheduler"])
        self.train_loss_epoch = MeanMetric()  # token-weighted training loss of the epoch
        self.val_nll, self.val_correct, self.val_tokens = SumMetric(), SumMetric(), SumMetric()
        self.epoch_losses: list[float] = []  # the token-weighted mean training loss of each epoch of this run

    def configure_model(self) -> None:
        """Build the HF causal LM (once), with LoRA / gradient checkpointing."""
        if self.model is None:
            self.model = self.build_backbone(load_causal_lm, "CAUSAL_LM")

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Next-token logits."""
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

    def token_stats(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(summed NLL, correct predictions, response tokens) of ``batch``."""
        return response_token_stats(self(batch["input_ids"], batch["attention_mask"]), batch["labels"])

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        nll, correct, tokens = self.token_stats(batch)
        n = tokens.clamp(min=1)
        loss = nll / n
        rows = len(batch["input_ids"])
        self.train_loss_epoch.update(loss.detach(), weight=n)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=rows, sync_dist=True)
        self.log("train/token_acc", correct.float() / n, on_step=False, on_epoch=True, batch_size=rows, sync_dist=True)
        self.log("train/response_tokens", tokens.float(), on_step=False, on_epoch=True, reduce_fx="sum", sync_dist=True)
        return loss

    def on_train_epoch_end(self) -> None:
        if self.train_loss_epoch.update_count:
            self.epoch_losses.append(float(self.train_loss_epoch.compute()))
        self.train_loss_epoch.reset()

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        nll, correct, tokens = self.token_stats(batch)
        self.val_nll.update(nll.detach())
        self.val_correct.update(correct.float())
        self.val_tokens.update(tokens.float())

    def on_validation_epoch_end(self) -> None:
        tokens = float(self.val_tokens.compute())
        if tokens > 0:
            loss = float(self.val_nll.compute()) / tokens
            self.log_dict({"val/loss": loss, "val/token_acc": float(self.val_correct.compute()) / tokens}, prog_bar=True)
            self.log_dict({"val/ppl": math.exp(min(loss, 50.0)), "val/response_tokens": tokens})
        for metric in (self.val_nll, self.val_correct, self.val_tokens):
            metric.reset()

    def fresh_copy(self) -> SFTLitModule:
        """A new module with the same arguments (its model not built yet)."""
        return SFTLitModule(optimizer=self.optimizer_factory, scheduler=self.scheduler_factory, **self.hparams)

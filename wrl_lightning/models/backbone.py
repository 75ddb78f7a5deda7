"""What the project's transformers-backed LightningModules (reward model, SFT, policy) share.

- The backbone is loaded in the dtype :func:`load_dtype` picks (fp32 master weights unless DeepSpeed bf16
  keeps its own), dropout optionally off, gradient checkpointing and LoRA (peft) optional; under ZeRO-3,
  transformers' ``HfDeepSpeedConfig`` is kept alive while it is built.
- The tokenizer always has a pad token; the optimizer gets AdamW-style parameter groups (no weight decay on
  biases and norms) and an optional warmup schedule; ``plain_model`` merges LoRA adapters for export.

Subclasses save their hyperparameters (``model_name``, ``lora``, ``gradient_checkpointing``,
``disable_dropout``, ``attn_implementation``, ``dtype``, ``trust_remote_code``, ``warmup_ratio``) with
``save_hyperparameters``; ``lora`` must be plain data (:func:`plain_data`) so checkpoints load with
``weights_only=True``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from wrl_lightning.models.loading import load_tokenizer
from wrl_lightning.models.rm_inputs import ensure_pad_token
from wrl_lightning.training.deepspeed import zero3_config
from wrl_lightning.training.precision import load_dtype


def plain_data(value: Any) -> Any:
    """``value`` with mappings as dicts and sequences as lists, recursively (e.g. Hydra's configs)."""
    if isinstance(value, Mapping):
        return {key: plain_data(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [plain_data(item) for item in value]
    return value


def param_groups(model: nn.Module) -> list[dict[str, Any]]:
    """Trainable parameters; biases and norm weights get no weight decay (ZeRO-3: judged by the full shape)."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            ndim = len(getattr(param, "ds_shape", param.shape))
            (no_decay if ndim < 2 or "norm" in name.lower() else decay).append(param)
    return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]


class BackboneModule(pl.LightningModule):
    """A LightningModule around a transformers backbone (see the module docstring for what it provides)."""

    def __init__(self, optimizer: Callable[..., torch.optim.Optimizer], scheduler: Callable[..., Any] | None = None):
        super().__init__()
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.model: nn.Module | None = None
        self._tokenizer = None
        self._zero3 = None

    @property
    def tokenizer(self):
        """The backbone's tokenizer, with a pad token (EOS, else UNK, where it has none)."""
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.hparams.model_name, trust_remote_code=self.hparams.trust_remote_code)
            ensure_pad_token(self._tokenizer)
        return self._tokenizer

    def load_backbone(self, loader: Callable[..., nn.Module], **kwargs: Any) -> nn.Module:
        """``loader(model_name, ...)`` in the resolved dtype and attention backend, dropout off if asked."""
        hp = self.hparams
        if hp.attn_implementation:
            kwargs["attn_implementation"] = hp.attn_implementation
        kwargs["dtype"] = getattr(torch, hp.dtype) if hp.dtype else load_dtype(self._trainer)
        model = loader(hp.model_name, trust_remote_code=hp.trust_remote_code, **kwargs)
        if hp.disable_dropout:
            for layer in model.modules():
                if isinstance(layer, nn.Dropout):
                    layer.p = 0.0
        return model

    def build_backbone(self, loader: Callable[..., nn.Module], task_type: str, **kwargs: Any) -> nn.Module:
        """The trainable backbone: :meth:`load_backbone`, then gradient checkpointing and LoRA (``task_type``
        as peft names it: SEQ_CLS, CAUSAL_LM)."""
        hp = self.hparams
        self._zero3 = zero3_config(self._trainer)
        model = self.load_backbone(loader, **kwargs)
        if hp.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if hp.lora:
            from peft import LoraConfig, get_peft_model

            model = get_peft_model(model, LoraConfig(task_type=task_type, **hp.lora))
            if hp.gradient_checkpointing:
                model.enable_input_require_grads()
        return model.train()  # from_pretrained returns eval mode

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(params=param_groups(self))
        if self.scheduler_factory is None:
            return optimizer
        total = int(self.trainer.estimated_stepping_batches)
        scheduler = self.scheduler_factory(
            optimizer=optimizer, num_warmup_steps=int(self.hparams.warmup_ratio * total), num_training_steps=total
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def plain_model(self) -> nn.Module:
        """The transformers model to export: LoRA adapters merged in (this ends the LoRA wrapper)."""
        if hasattr(self.model, "merge_and_unload"):
            self.model = self.model.merge_and_unload()
        return self.model

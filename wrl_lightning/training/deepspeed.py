"""Lightning's DeepSpeed strategy with the loss scaled once under gradient accumulation, and config checks.

Lightning's automatic loop divides each micro-batch loss by ``accumulate_grad_batches`` and also sets
DeepSpeed's ``gradient_accumulation_steps`` to it; ``DeepSpeedEngine.backward`` then divides again by default
(``scale_wrt_gas=True``), so accumulation N trained with gradients N times too small (read from Lightning
2.6 ``loops/optimization/automatic.py`` and ``strategies/deepspeed.py``, DeepSpeed 0.19 ``runtime/engine.py``;
transformers' Trainer passes ``scale_wrt_gas=False`` for the same reason). :class:`DeepSpeedStrategy` passes
``scale_wrt_gas=False``: every training stage's ``strategy=deepspeed_*`` config uses it.
"""

from __future__ import annotations

from typing import Any

from pytorch_lightning.strategies import DeepSpeedStrategy as _LightningDeepSpeedStrategy

from wrl_lightning.errors import ConfigError

#: Optimizers DeepSpeed accepts when optimizer states are offloaded to the CPU.
OFFLOAD_OPTIMIZERS = ("DeepSpeedCPUAdam",)


class DeepSpeedStrategy(_LightningDeepSpeedStrategy):
    """Lightning's DeepSpeed strategy, but the engine does not divide the (already divided) loss again."""

    def backward(self, closure_loss: Any, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("scale_wrt_gas", False)  # Lightning's loop already divided by accumulate_grad_batches
        return super().backward(closure_loss, optimizer, *args, **kwargs)


def is_deepspeed(strategy: Any) -> bool:
    """Whether a Trainer's strategy is (any) Lightning DeepSpeed strategy."""
    return isinstance(strategy, _LightningDeepSpeedStrategy)


def zero3_config(trainer: Any) -> Any:
    """transformers' ``HfDeepSpeedConfig`` when the strategy runs ZeRO-3 (keep it alive while a model is built:
    transformers then creates the weights partitioned), else None."""
    config = getattr(getattr(trainer, "strategy", None), "config", None) or {}
    if config.get("zero_optimization", {}).get("stage") != 3:
        return None
    from transformers.integrations import HfDeepSpeedConfig

    return HfDeepSpeedConfig(config)


def check_offload_optimizer(offload_optimizer: bool, optimizer_target: str, key: str) -> None:
    """DeepSpeed optimizer offload needs DeepSpeed's CPU Adam (DeepSpeed refuses torch optimizers there)."""
    if offload_optimizer and not optimizer_target.endswith(OFFLOAD_OPTIMIZERS):
        raise ConfigError(key, f"{optimizer_target} cannot run with optimizer offload; "
                               f"set {key}=deepspeed.ops.adam.DeepSpeedCPUAdam")

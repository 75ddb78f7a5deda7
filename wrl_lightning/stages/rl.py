"""``stage=rl``: train a policy with GRPO on rewards of its own completions; validate before and after; export.

The batch arithmetic is checked before anything loads; validation runs at step 0 and at the end (and every
``rl.val_every_rounds`` rounds), so every run has a before and an after.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from wrl_lightning.errors import ConfigError
from wrl_lightning.models.export import save_hf_folder
from wrl_lightning.rl.data import PolicyDataModule, check_batch_arithmetic
from wrl_lightning.rl.policy_module import PolicyLitModule
from wrl_lightning.rl.rewards import RewardSource
from wrl_lightning.rl.rollout import build_rollout
from wrl_lightning.training.builders import build_callbacks, build_trainer
from wrl_lightning.utils.config import require_int
from wrl_lightning.utils.loggers import build_loggers, finish_loggers, log_config
from wrl_lightning.utils.run import output_dir

log = logging.getLogger(__name__)

#: Share of the rounds averaged for ``reward_start`` / ``reward_end``.
EDGE_SHARE = 0.1


def build_rewards(cfg: DictConfig) -> tuple[dict[str, RewardSource], dict[str, float]]:
    """The reward sources of ``rl.rewards`` (name -> config with a ``weight``) and their weights."""
    sources, weights = {}, {}
    for name, spec in (cfg.rl.get("rewards") or {}).items():
        if spec is None:
            continue
        spec = OmegaConf.to_container(spec, resolve=True)
        weights[name] = float(spec.pop("weight", 1.0))
        sources[name] = instantiate(spec)
    if not sources:
        raise ConfigError("rl.rewards", "no reward source (add one, e.g. +reward@rl.rewards.rule=rule)")
    return sources, weights


def edge_means(values: list[float]) -> tuple[float, float]:
    """Mean of the first and of the last ``EDGE_SHARE`` of ``values`` (at least one value each; NaN skipped)."""
    k = max(1, math.ceil(EDGE_SHARE * len(values)))

    def mean(part: list[float]) -> float:
        part = [v for v in part if not math.isnan(v)]
        return sum(part) / len(part) if part else math.nan

    return mean(values[:k]), mean(values[-k:])


def plot_rewards(values: list[float], path: Path) -> Path:
    """The mean training reward per round, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.plot(range(1, len(values) + 1), values, marker="o")
    axes.set(xlabel="round (rollout batch)", ylabel="mean reward", title="GRPO training reward")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def run(cfg: DictConfig) -> dict[str, Any]:
    """Validate, train with GRPO, validate again, export; returns rewards before/after and validation metrics."""
    rl, algorithm = cfg.rl, cfg.algorithm
    rounds = require_int(cfg, "rl.rounds", minimum=1)
    micro_batch = require_int(cfg, "rl.micro_batch", minimum=1)
    world = require_int(cfg, "trainer.devices", minimum=1) * require_int(cfg, "trainer.num_nodes", minimum=1)
    accumulate = check_batch_arithmetic(int(rl.prompts_per_round), int(algorithm.n), int(rl.update_batch), micro_batch, world)
    out = output_dir(cfg)
    rollout = build_rollout(**OmegaConf.to_container(cfg.rollout, resolve=True))
    rewards, weights = build_rewards(cfg)
    module: PolicyLitModule = instantiate(cfg.model.policy, **OmegaConf.to_container(algorithm, resolve=True),
                                          rollout=rollout, rewards=rewards, reward_weights=weights,
                                          micro_batch=micro_batch, accumulate=accumulate, seed=int(cfg.seed),
                                          completions_dir=str(out / "completions"))
    batches_per_round = module.batches_per_round(int(rl.prompts_per_round) // world)
    datamodule = PolicyDataModule(**OmegaConf.to_container(rl.data, resolve=True), prompts_per_round=int(rl.prompts_per_round),
                                  batches_per_round=batches_per_round, rounds=rounds, seed=int(cfg.seed))
    datamodule.setup("fit")
    trainer_cfg = cfg.trainer.copy()
    every = rl.get("val_every_rounds")
    OmegaConf.update(trainer_cfg, "accumulate_grad_batches", accumulate)
    OmegaConf.update(trainer_cfg, "max_epochs", 1)
    OmegaConf.update(trainer_cfg, "num_sanity_val_steps", 0)
    OmegaConf.update(trainer_cfg, "val_check_interval", batches_per_round * int(every) if every else 1.0)
    loggers = build_loggers(cfg)
    try:
        trainer = build_trainer(trainer_cfg, build_callbacks(cfg.get("callbacks"), bool(loggers)), loggers)
        log_config(loggers, cfg)
        validate = datamodule.val_dataloader()
        if validate:
            trainer.validate(module, dataloaders=validate, verbose=False)
        trainer.fit(module, train_dataloaders=datamodule.train_dataloader(), val_dataloaders=validate if every else None)
        if validate:
            trainer.validate(module, dataloaders=validate, verbose=False)
        export_dir = Path(str(rl.export.dir))
        if trainer.is_global_zero:
            save_hf_folder(module.plain_model(), module.tokenizer, export_dir)
            plot_rewards(module.round_rewards, out / "reward_curve.png")
            log.info("exported the policy to %s", export_dir)
    finally:
        finish_loggers(loggers)
    start, end = edge_means(module.round_rewards)
    metrics: dict[str, Any] = {"reward_start": start, "reward_end": end, "rounds": len(module.round_rewards),
                               "rewards": module.round_rewards, "export_dir": str(export_dir),
                               "reward_curve": str(out / "reward_curve.png")}
    if module.validations:
        metrics.update({f"val_before/{k}": v for k, v in module.validations[0].items()})
        metrics.update({f"val_after/{k}": v for k, v in module.validations[-1].items()})
    return metrics

"""``stage=rm``: train the fine-grained reward model, rank WEval validation groups, export an HF folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from wrl_lightning.models.export import export_hf
from wrl_lightning.models.reward_module import RewardLitModule
from wrl_lightning.training.builders import check_training_config, fit_and_export
from wrl_lightning.utils.files import write_jsonl
from wrl_lightning.utils.run import output_dir

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Fit the RM on ``cfg.data``, export it to ``rm.export.dir``; returns the final metrics and ``export_dir``."""
    weights = check_training_config(cfg, "rm", "model.rm.optimizer._target_")
    out = output_dir(cfg)
    export_dir = Path(str(cfg.rm.export.dir))
    datamodule = instantiate(cfg.data)
    module: RewardLitModule = instantiate(cfg.model.rm)

    def export(chosen: RewardLitModule) -> None:
        export_hf(chosen.plain_model(), chosen.tokenizer, export_dir, chosen.template, chosen.objective.head,
                  dtype=cfg.rm.export.dtype, meta={"max_length": datamodule.max_length, "weights": weights})
        if datamodule.weval_groups:
            write_jsonl(out / "weval_val_groups.jsonl", (g.to_dict() for g in datamodule.weval_groups))
        log.info("exported the RM to %s", export_dir)

    metrics = fit_and_export(cfg, module, datamodule, weights, "rm", export)
    return {**metrics, **{f"data/{k}": v for k, v in datamodule.stats.items()}, "export_dir": str(export_dir)}

"""``stage=pipeline``: the embedded WRL pipeline — pairs → RM training → WEval of the trained RM against
baselines on held-out groups. Each step is the real stage, composed from the same configs with its own
overrides, writing into ``<output_dir>/<step>/``."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from wrl_lightning.utils.run import is_global_zero, output_dir, run_stage

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def compose_step(overrides: list[str]) -> DictConfig:
    """The root config composed with ``overrides`` (inside a Hydra app or standalone)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    context = nullcontext() if GlobalHydra.instance().is_initialized() else initialize_config_dir(str(CONF_DIR), version_base="1.3")
    with context:
        return compose(config_name="config", overrides=overrides)


def _step(cfg: DictConfig, name: str, overrides: list[str]) -> dict[str, Any]:
    """Run one step with the pipeline's seed, logger and printing settings plus ``overrides``."""
    shared = [f"seed={cfg.seed}", f"logger={cfg.pipeline.logger}", f"extras.print_config={cfg.pipeline.print_steps}"]
    step_cfg = compose_step([*shared, *overrides, f"paths.output_dir={output_dir(cfg) / name}"])
    with open_dict(step_cfg):
        step_cfg.paths.cache_dir = cfg.paths.cache_dir
    return run_stage(step_cfg)


def run(cfg: DictConfig) -> dict[str, Any]:
    """pairs → rm → weval (trained RM, then each baseline) on the held-out groups; returns all metrics."""
    out = output_dir(cfg)
    steps = OmegaConf.to_container(cfg.pipeline, resolve=True)
    pairs_dir = out / "pairs"
    metrics: dict[str, Any] = {}
    pairs = _step(cfg, "pairs", ["stage=pairs", *steps["pairs"]])
    metrics.update({f"pairs/{k}": v for k, v in pairs.items()})
    rm = _step(cfg, "rm", [
        *steps["rm"], f"data.input={pairs_dir / 'pairs_train.jsonl'}", "data.format=pairs",
        f"data.weval_input={pairs_dir / 'weval_groups.jsonl'}", "data.weval_format=canonical",
    ])
    metrics.update({f"rm/{k}": v for k, v in rm.items()})
    held_out = [f"weval.input={pairs_dir / 'weval_groups.jsonl'}", "weval.format=canonical"]
    scorers = {"rm": ["scorer=rm", f"scorer.model={rm['export_dir']}", *steps["weval"]]}
    scorers.update({name: [f"scorer={name}"] for name in steps["baselines"]})
    for name, overrides in scorers.items():
        result = _step(cfg, f"weval_{name}", ["stage=weval", *held_out, *overrides])
        metrics.update({f"weval_{name}/{k}": v for k, v in result.items()})
    if is_global_zero():
        _print_comparison(metrics, list(scorers), out)
    return metrics


def _print_comparison(metrics: dict[str, Any], scorers: list[str], out: Path) -> None:
    """The held-out WEval table of the trained RM and the baselines, and where everything is."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"WEval on {metrics['weval_rm/n_groups']} held-out groups (prompts never trained on)")
    for column in ("scorer", "Kendall τ", "position consistency", "exact match", "results"):
        table.add_column(column)
    for name in scorers:
        prefix = f"weval_{name}/"
        table.add_row(name, *(f"{metrics[prefix + key]:.3f}" for key in ("kendall_tau", "position_consistency", "exact_match")),
                      str(out / f"weval_{name}" / "table.md"))
    console = Console(soft_wrap=True)
    console.print(table)
    console.print(f"pairs: {out / 'pairs'} · RM export: {metrics['rm/export_dir']} · "
                  f"plots: {out / 'weval_rm'}/plot_by_*.png · all metrics: {out / 'metrics.json'}")

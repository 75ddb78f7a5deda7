"""``stage=weval``: score WEval groups with the configured scorer and report the ranking metrics."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig

from wrl_lightning.errors import ConfigError
from wrl_lightning.scoring.base import Scorer
from wrl_lightning.utils.config import require_choice, require_file, require_int
from wrl_lightning.utils.loggers import report_metrics
from wrl_lightning.utils.run import is_global_zero, output_dir
from wrl_lightning.weval.importers import IMPORTERS, load_groups
from wrl_lightning.weval.metrics import TIE_MODES, evaluate
from wrl_lightning.weval.report import write_group_scores, write_plots, write_table

log = logging.getLogger(__name__)


def build_scorer(cfg: DictConfig) -> Scorer:
    """Instantiate ``cfg.scorer`` (a ``_target_`` config)."""
    if "_target_" not in (cfg.get("scorer") or {}):
        raise ConfigError("scorer", "choose a scorer, e.g. scorer=length (see conf/scorer/)")
    scorer = instantiate(cfg.scorer, _convert_="all")
    if not isinstance(scorer, Scorer):
        raise ConfigError("scorer._target_", f"{cfg.scorer._target_} does not build a Scorer")
    return scorer


def run(cfg: DictConfig) -> dict:
    """Load groups, score them, compute metrics, write scores/table/plots, log them; return the metrics."""
    path = require_file(cfg, "weval.input")
    fmt = require_choice(cfg, "weval.format", IMPORTERS)
    ties = require_choice(cfg, "weval.ties", TIE_MODES)
    resamples = require_int(cfg, "weval.bootstrap", minimum=0)
    limit = require_int(cfg, "weval.limit", minimum=1, optional=True)
    group_size = require_int(cfg, "weval.group_size", minimum=2, optional=True)
    out = output_dir(cfg)

    groups = load_groups(path, fmt, group_size=group_size, infer_types=bool(cfg.weval.infer_types))[:limit]
    scorer = build_scorer(cfg)
    scorer_name = type(scorer).__name__
    started = time.perf_counter()
    scored = scorer.score(groups)
    seconds = time.perf_counter() - started
    metrics, results = evaluate(groups, scored, ties=ties, bootstrap_resamples=resamples, seed=int(cfg.seed))
    n_responses = sum(len(g.responses) for g in groups)
    metrics.update(scorer=scorer_name, input=str(path), n_responses=n_responses, score_seconds=seconds,
                   responses_per_second=n_responses / seconds if seconds else float("inf"))
    metrics.update({f"scorer/{k}": v for k, v in getattr(scorer, "stats", {}).items()})
    warnings = list(getattr(scorer, "warnings", []))
    if warnings:
        metrics["warnings"] = warnings
    if not is_global_zero():  # other ranks of a multi-device scorer computed the same; rank 0 writes
        return metrics

    scores_path = write_group_scores(out / "scores.jsonl", groups, scored, results)
    table_path = write_table(out / "table.md", metrics, f"WEval — {scorer_name} on {Path(path).name}", warnings)
    plots = write_plots(out, metrics) if cfg.weval.plots else {}

    per_group = [[r.group_id, r.size, r.category, r.kendall_tau, r.position_consistency, r.exact_match] for r in results]
    columns = ["group_id", "size", "category", "kendall_tau", "position_consistency", "exact_match"]
    report_metrics(cfg, metrics, tables={"weval/groups": (columns, per_group)},
                   images={f"weval/{name}": p for name, p in plots.items()})
    if cfg.weval.print_summary:
        _print_summary(metrics, out, scores_path, table_path, plots)
    _print_warnings(warnings)
    return metrics


def _print_warnings(warnings: list[str]) -> None:
    """Each warning about the scores as one loud line (not wrapped), after the summary."""
    from rich.console import Console
    from rich.text import Text

    console = Console(stderr=True, soft_wrap=True)
    for warning in warnings:
        console.print(Text.assemble(("WARNING:", "bold red"), " ", (warning, "bold yellow")))


def _print_summary(metrics: dict, out: Path, scores_path: Path, table_path: Path, plots: dict) -> None:
    """A short rich panel: the headline numbers and where every output is."""
    from rich.console import Console
    from rich.panel import Panel

    files = ["metrics.json", scores_path.name, table_path.name, *[p.name for p in plots.values()]]
    lines = [
        f"[bold]{metrics['scorer']}[/] on {metrics['n_groups']} groups "
        f"(ties={metrics['ties']}, {metrics['n_tied_groups']} with tied scores)",
        f"Kendall τ {metrics['kendall_tau']:.3f} · position consistency {metrics['position_consistency']:.3f} "
        f"· exact match {metrics['exact_match']:.3f}",
        f"results in [bold]{out}[/]:",
        *[f"  {name}" for name in files],
    ]
    Console(soft_wrap=True).print(Panel("\n".join(lines), title="WEval", expand=False))

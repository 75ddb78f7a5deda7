"""One summary table across the jobs of a Hydra multirun: ``summary.md`` and ``summary.csv`` in the sweep
folder, and the same table on the console.

Rows are jobs; columns are the overrides that differ between jobs (those shared by every job are listed once
above the table; the CSV has them all), then the main metrics of each job's stage read from its
``metrics.json``. A job without ``metrics.json`` is listed as failed. The files are rewritten after every
job, so a sweep stopped by a failed job still leaves the summary of what ran.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from wrl_lightning.utils.files import read_json, write_text

#: The metrics shown per stage (those a job has); a stage not listed shows its first numeric metrics.
MAIN_METRICS: dict[str, tuple[str, ...]] = {
    "weval": ("kendall_tau", "position_consistency", "exact_match", "n_groups", "n_tied_groups", "scorer/unparsed_rate"),
    "rm": ("train/loss", "val/loss", "val/acc", "val/auroc", "val/weval/kendall_tau", "val/weval/exact_match"),
    "sft": ("train/loss", "val/loss", "val/ppl", "val/token_acc"),
    "rl": ("reward_start", "reward_end", "rounds"),
    "pairs": ("pairs_train", "pairs_eval", "pairs_filtered", "label_noise/rate"),
    "ifeval": ("prompt_level_strict", "instruction_level_strict", "prompt_level_loose", "instruction_level_loose"),
    "generate": ("n_prompts", "n_empty", "response_words/mean", "generate_seconds"),
}
#: Metrics shown for a stage without a :data:`MAIN_METRICS` entry.
FALLBACK_COUNT = 6


@dataclass
class Job:
    """One job of the sweep: its folder, overrides (key -> value), stage and metrics (None: it failed)."""

    folder: Path
    overrides: dict[str, str]
    stage: str
    metrics: dict[str, Any] | None = field(default=None)


def _natural(path: Path) -> list[Any]:
    """Sort key putting job folders 2 before 10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.as_posix())]


def read_jobs(sweep_dir: Path) -> list[Job]:
    """Every job folder under ``sweep_dir`` (those holding ``.hydra/overrides.yaml``), in job order."""
    jobs = []
    for marker in sorted(sweep_dir.glob("**/.hydra/overrides.yaml"), key=_natural):
        folder = marker.parent.parent
        overrides = {}
        for item in OmegaConf.load(marker):
            key, _, value = str(item).partition("=")
            overrides[key.lstrip("+~")] = value
        config_path = folder / ".hydra" / "config.yaml"
        stage = str(OmegaConf.select(OmegaConf.load(config_path), "stage.name", default="?")) if config_path.is_file() else "?"
        metrics_path = folder / "metrics.json"
        jobs.append(Job(folder, overrides, stage, read_json(metrics_path) if metrics_path.is_file() else None))
    return jobs


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def metric_columns(jobs: list[Job]) -> list[str]:
    """The main metrics of the jobs' stages that at least one job has, in registry order."""
    columns: list[str] = []
    for job in jobs:
        if job.metrics is None:
            continue
        wanted = MAIN_METRICS.get(job.stage)
        if wanted is None:
            wanted = tuple(k for k, v in job.metrics.items() if _is_number(v))[:FALLBACK_COUNT]
        columns += [key for key in wanted if key in job.metrics and key not in columns]
    return columns


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


@dataclass
class Summary:
    """The table: shared overrides, column names and formatted rows (plus the raw CSV)."""

    shared: dict[str, str]
    columns: list[str]
    rows: list[list[str]]
    csv_text: str


def summarize(jobs: list[Job]) -> Summary:
    """Columns: job, status, the overrides that differ, the main metrics (with their 95% interval if any)."""
    keys = list(dict.fromkeys(key for job in jobs for key in job.overrides))
    varying = [k for k in keys if len({job.overrides.get(k) for job in jobs}) > 1]
    shared = {k: jobs[0].overrides[k] for k in keys if k not in varying}
    metrics = metric_columns(jobs)
    intervals = [m for m in metrics if any(f"{m}_ci_low" in (job.metrics or {}) for job in jobs)]
    rows = []
    raw_columns = ["job", "status", *keys, *[c for m in metrics for c in (m, *((f"{m}_ci_low", f"{m}_ci_high") if m in intervals else ()))]]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(raw_columns)
    for job in jobs:
        name, status, found = job.folder.name, "ok" if job.metrics is not None else "failed", job.metrics or {}
        row = [name, status, *[job.overrides.get(k, "") for k in varying]]
        for m in metrics:
            cell = _format(found.get(m))
            if m in intervals and found.get(f"{m}_ci_low") is not None:
                cell += f" [{found[f'{m}_ci_low']:.3f}, {found[f'{m}_ci_high']:.3f}]"
            row.append(cell)
        rows.append(row)
        values = [found.get(c, "") for c in raw_columns[2 + len(keys):]]
        writer.writerow([name, status, *[job.overrides.get(k, "") for k in keys], *values])
    return Summary(shared, ["job", "status", *varying, *metrics], rows, buffer.getvalue())


def markdown(summary: Summary, sweep_dir: Path) -> str:
    """``summary.md``: the shared overrides, then one row per job."""
    lines = [f"# Multirun summary — {len(summary.rows)} jobs", "", f"Sweep folder: `{sweep_dir}`"]
    if summary.shared:
        lines.append("Same in every job: " + " ".join(f"`{k}={v}`" for k, v in summary.shared.items()))
    lines += ["", "| " + " | ".join(summary.columns) + " |", "|---" * len(summary.columns) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in summary.rows]
    return "\n".join(lines) + "\n"


def write_summary(sweep_dir: Path) -> Summary | None:
    """Write ``summary.md`` and ``summary.csv`` for the jobs found so far; None when there are none yet."""
    jobs = read_jobs(sweep_dir)
    if not jobs:
        return None
    summary = summarize(jobs)
    write_text(sweep_dir / "summary.md", markdown(summary, sweep_dir))
    write_text(sweep_dir / "summary.csv", summary.csv_text)
    return summary


def print_summary(summary: Summary, sweep_dir: Path) -> None:
    """The same table on the console (rich)."""
    from rich.console import Console
    from rich.table import Table

    shared = " ".join(f"{k}={v}" for k, v in summary.shared.items())
    table = Table(title=f"Multirun summary — {len(summary.rows)} jobs", caption=f"same in every job: {shared}" if shared else None)
    for column in summary.columns:
        table.add_column(column, overflow="fold")
    for row in summary.rows:
        table.add_row(*row, style=None if row[1] == "ok" else "red")
    console = Console(soft_wrap=True)
    console.width = max(console.width, console.measure(table, options=console.options.update_width(1_000)).maximum)  # one line per job, even when piped
    console.print(table)
    console.print(f"summary: {sweep_dir / 'summary.md'}, {sweep_dir / 'summary.csv'}")


class SweepSummaryCallback(Callback):
    """Hydra callback (conf/hydra/default.yaml): the summary after every job and, printed, after the sweep."""

    def on_job_end(self, config: DictConfig, job_return: Any = None, **kwargs: Any) -> None:
        from hydra.types import RunMode

        if config.hydra.mode == RunMode.MULTIRUN:
            write_summary(Path(str(config.hydra.sweep.dir)))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        summary = write_summary(sweep_dir)
        if summary is not None:
            print_summary(summary, sweep_dir)

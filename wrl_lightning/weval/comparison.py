"""Several scorers' WEval results side by side: one table row per scorer (×100, with the 95% bootstrap interval)
and one bar chart with the intervals as error bars. Input: each scorer's metrics as the weval stage returns them
(``kendall_tau``, ``kendall_tau_ci_low``, ``kendall_tau_ci_high``, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wrl_lightning.utils.files import atomic_path
from wrl_lightning.weval.metrics import METRICS
from wrl_lightning.weval.report import LABELS, cell, interval

#: The plot's names of the metrics.
TICKS = {"kendall_tau": "Kendall τ", "position_consistency": "position consistency (PC)", "exact_match": "exact match (EM)"}


def header() -> list[str]:
    """The column names of :func:`rows`."""
    return ["scorer", *(f"{LABELS[name]} (×100)" for name in METRICS)]


def rows(results: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    """One row per scorer (in the order of ``results``): its name and a :func:`cell` per metric."""
    return [[scorer, *(cell(metrics, name) for name in METRICS)] for scorer, metrics in results.items()]


def markdown(results: Mapping[str, Mapping[str, Any]]) -> str:
    """:func:`rows` as a Markdown table."""
    lines = ["| " + " | ".join(header()) + " |", "|---" * (1 + len(METRICS)) + "|"]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows(results))]) + "\n"


def plot(results: Mapping[str, Mapping[str, Any]], path: Path, title: str) -> Path:
    """Grouped bars (one group per metric, one bar per scorer) with the bootstrap intervals as whiskers; a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 3.8))
    width = 0.8 / max(1, len(results))
    lowest = 0.0
    for k, (scorer, metrics) in enumerate(results.items()):
        values, errors = [], [[], []]
        for name in METRICS:
            value, low, high = interval(metrics, name)
            values.append(value)
            errors[0].append(value - low if low is not None else 0.0)
            errors[1].append(high - value if high is not None else 0.0)
            lowest = min(lowest, value, low if low is not None else value)
        positions = [i + (k - (len(results) - 1) / 2) * width for i in range(len(METRICS))]
        axes.bar(positions, values, width, yerr=errors, capsize=3, label=scorer)
    axes.axhline(0, color="grey", linewidth=0.8)
    axes.set_xticks(range(len(METRICS)), [TICKS[name] for name in METRICS])
    axes.set_ylim(min(-0.05, lowest - 0.05), 1.0)
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    plt.close(figure)
    return path

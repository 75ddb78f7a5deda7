"""WEval outputs: per-group scores (JSONL), a Markdown table and PNG bar charts, all written atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from wrl_lightning.data.records import WEvalGroup
from wrl_lightning.data.scores import GroupScores
from wrl_lightning.utils.files import atomic_path, write_jsonl, write_text
from wrl_lightning.weval.metrics import METRICS, GroupResult

LABELS = {"kendall_tau": "Kendall τ", "position_consistency": "Position consistency", "exact_match": "Exact match"}


def write_group_scores(path: Path, groups: Sequence[WEvalGroup], scored: Sequence[GroupScores], results: Sequence[GroupResult]) -> Path:
    """One row per group: gold, scores (and per-requirement scores), and the group's metrics."""
    rows = []
    for group, scores, result in zip(groups, scored, results, strict=True):
        row = {"group_id": group.group_id, "size": group.size, "category": group.category, "gold": group.gold}
        row.update(scores.to_dict())
        row.update({name: getattr(result, name) for name in METRICS}, has_ties=result.has_ties)
        rows.append(row)
    return write_jsonl(path, rows)


def _slices(metrics: dict, key: str) -> list[str]:
    prefix = f"{key}/"
    return sorted({name.split("/")[1] for name in metrics if name.startswith(prefix) and name.endswith("/n_groups")},
                  key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0, s))


def interval(metrics: dict, name: str, prefix: str = "") -> tuple[float, float | None, float | None]:
    """``prefix + name``'s value and its bootstrap interval (None, None without one)."""
    key = f"{prefix}{name}"
    return metrics[key], metrics.get(f"{key}_ci_low"), metrics.get(f"{key}_ci_high")


def cell(metrics: dict, name: str, prefix: str = "") -> str:
    """``prefix + name`` ×100 with its interval, e.g. ``18.7 [-9.3, 44.0]``."""
    value, low, high = interval(metrics, name, prefix)
    return f"{100 * value:.1f}" + (f" [{100 * low:.1f}, {100 * high:.1f}]" if low is not None else "")


def markdown_table(metrics: dict, title: str, warnings: Sequence[str] = ()) -> str:
    """The overall / per-size / per-category table (×100, 95% bootstrap CI overall) and requirement types,
    under any ``warnings`` about the scores (one quoted line each)."""
    lines = [f"# {title}", "", *[f"> **Warning:** {warning}\n" for warning in warnings]]
    lines += [f"Ties: `{metrics['ties']}`; groups with tied scores: {metrics['n_tied_groups']} of {metrics['n_groups']}.", ""]
    lines += ["| slice | groups | " + " | ".join(LABELS[m] + " (×100)" for m in METRICS) + " |", "|---" * (2 + len(METRICS)) + "|"]
    rows = [("all", "")] + [(f"{s}c", f"size/{s}/") for s in _slices(metrics, "size")]
    rows += [(f"category: {s}", f"category/{s}/") for s in _slices(metrics, "category")]
    for label, prefix in rows:
        lines.append(f"| {label} | {metrics[f'{prefix}n_groups']} | " + " | ".join(cell(metrics, m, prefix) for m in METRICS) + " |")
    types = sorted({k.split("/")[1] for k in metrics if k.startswith("type/")})
    if types:
        lines += ["", "## Requirement types", "",
                  "Pair accuracy: how often a response that kept a requirement outscores one that dropped it.", "",
                  "| requirement type | pairs | pair accuracy (×100) |", "|---|---|---|"]
        lines += [f"| {t} | {metrics[f'type/{t}/n_pairs']} | {100 * metrics[f'type/{t}/pair_accuracy']:.1f} |" for t in types]
    return "\n".join(lines) + "\n"


def write_table(path: Path, metrics: dict, title: str, warnings: Sequence[str] = ()) -> Path:
    """Write :func:`markdown_table` atomically."""
    return write_text(path, markdown_table(metrics, title, warnings))


def write_plots(directory: Path, metrics: dict) -> dict[str, Path]:
    """Bar charts per group size, category and requirement type; returns {name: path}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: dict[str, Path] = {}
    for key in ("size", "category"):
        slices = _slices(metrics, key)
        if not slices:
            continue
        fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(slices) + 2), 3.6))
        width = 0.8 / len(METRICS)
        for m, name in enumerate(METRICS):
            values = [metrics[f"{key}/{s}/{name}"] for s in slices]
            ax.bar([i + m * width for i in range(len(slices))], values, width, label=LABELS[name])
        ax.set_xticks([i + width for i in range(len(slices))], [f"{s}c" if key == "size" else s for s in slices], rotation=20)
        ax.set_ylim(min(0, *[metrics[f"{key}/{s}/kendall_tau"] for s in slices]), 1)
        ax.set_title(f"WEval by {'group size' if key == 'size' else 'task category'}")
        ax.legend(fontsize=8)
        written[f"by_{key}"] = _save(fig, directory / f"plot_by_{key}.png")
    types = sorted({k.split("/")[1] for k in metrics if k.startswith("type/")})
    if types:
        fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(types) + 2), 3.6))
        ax.bar(types, [metrics[f"type/{t}/pair_accuracy"] for t in types], color="tab:green")
        ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
        ax.set_ylim(0, 1)
        ax.set_ylabel("pair accuracy")
        ax.set_title("WEval by requirement type")
        plt.setp(ax.get_xticklabels(), rotation=20)
        written["by_type"] = _save(fig, directory / "plot_by_type.png")
    return written


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path

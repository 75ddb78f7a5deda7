"""Scores of WEval groups: the record scorers produce and WEval reads (shared by scoring, weval and RM training)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wrl_lightning.data.records import WEvalGroup


@dataclass
class GroupScores:
    """Scores for one group: ``scores[i]`` for response i; ``requirement_scores[i][j]`` for response i on
    requirement j (``None`` where response i is not scored on j), when the scorer has them."""

    group_id: str
    scores: list[float]
    requirement_scores: list[list[float | None]] | None = None

    def to_dict(self) -> dict:
        row = {"group_id": self.group_id, "scores": self.scores}
        if self.requirement_scores is not None:
            row["requirement_scores"] = self.requirement_scores
        return row


def assemble_group_scores(
    groups: Sequence[WEvalGroup], items: list[tuple[int, int, int]], values: Sequence[float], only_scored: bool = False
) -> list[GroupScores]:
    """Per-requirement values -> GroupScores with the mean over each response's requirements
    (``only_scored``: over the requirements that received a value, for scorers that skip some)."""
    table = [[[None] * group.size for _ in group.responses] for group in groups]
    for (g, r, q), value in zip(items, values, strict=True):
        table[g][r][q] = float(value)
    results = []
    for group, rows in zip(groups, table, strict=True):
        means = []
        for r, row in enumerate(rows):
            chosen = [row[q] for q in group.requirement_indices(r) if not only_scored or row[q] is not None]
            means.append(sum(chosen) / len(chosen) if chosen else 0.0)
        results.append(GroupScores(group.group_id, means, rows))
    return results


"""Rule scorer: verifiable requirements checked by their checkers; mean verdict per response.

Requirements without a checker are skipped; a group with no verifiable requirement cannot be scored.
"""

from __future__ import annotations

from collections.abc import Sequence

from wrl_lightning.data.records import WEvalGroup
from wrl_lightning.data.scores import GroupScores, assemble_group_scores
from wrl_lightning.errors import RecordError
from wrl_lightning.scoring.base import Scorer


class RuleScorer(Scorer):
    """Checker verdicts (1/0) per verifiable requirement, averaged per response."""

    def __init__(self, loose: bool = False):
        self.loose = loose

    def score(self, groups: Sequence[WEvalGroup]) -> list[GroupScores]:
        from wrl_lightning.requirements.checkers import check_requirement, is_verifiable, validate_requirement

        items, values = [], []
        for g, group in enumerate(groups):
            verifiable = {q for q, req in enumerate(group.requirements) if is_verifiable(req)}
            if not verifiable:
                where = group.where
                raise RecordError(where.source if where else group.group_id, where.line if where else None, "requirements",
                                  f"group {group.group_id!r} has no verifiable requirement (scorer=rule needs 'checker' ids)")
            for q in verifiable:
                validate_requirement(group.requirements[q], group.where)
            for r, response in enumerate(group.responses):
                for q in group.requirement_indices(r):
                    if q in verifiable:
                        items.append((g, r, q))
                        values.append(float(check_requirement(group.requirements[q], response.text, prompt=group.prompt, loose=self.loose)))
        return assemble_group_scores(groups, items, values, only_scored=True)

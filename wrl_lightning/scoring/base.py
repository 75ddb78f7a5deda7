"""The scorer interface: WEval groups in, per-response (and per-requirement) scores out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from wrl_lightning.data.records import WEvalGroup
from wrl_lightning.data.scores import GroupScores, assemble_group_scores


class Scorer(ABC):
    """Scores every response of every group (higher = better)."""

    @abstractmethod
    def score(self, groups: Sequence[WEvalGroup]) -> list[GroupScores]:
        """One :class:`GroupScores` per group, in order."""


class PerRequirementScorer(Scorer):
    """A scorer that judges each (response, requirement) and averages over the requirements the response
    is scored on (the paper's WEval protocol for its RM, judge and critic)."""

    @abstractmethod
    def score_items(self, groups: Sequence[WEvalGroup], items: list[tuple[int, int, int]]) -> list[float]:
        """Scores for ``items`` = (group index, response index, requirement index) triples."""

    def score(self, groups: Sequence[WEvalGroup]) -> list[GroupScores]:
        items = [
            (g, r, q)
            for g, group in enumerate(groups)
            for r in range(len(group.responses))
            for q in group.requirement_indices(r)
        ]
        values = self.score_items(groups, items)
        return assemble_group_scores(groups, items, values)

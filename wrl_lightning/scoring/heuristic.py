"""Baseline scorers that need no model: response length, random, and scores precomputed elsewhere."""

from __future__ import annotations

import random
from collections.abc import Sequence

from wrl_lightning.data.records import WEvalGroup
from wrl_lightning.data.scores import GroupScores
from wrl_lightning.errors import RecordError
from wrl_lightning.scoring.base import Scorer

LENGTH_UNITS = {
    "words": lambda text: len(text.split()),
    "chars": len,
    "lines": lambda text: len(text.splitlines()),
}


class LengthScorer(Scorer):
    """Longer is better (a strong naive baseline: responses that keep more requirements tend to be longer)."""

    def __init__(self, unit: str = "words"):
        if unit not in LENGTH_UNITS:
            raise ValueError(f"unit must be one of {sorted(LENGTH_UNITS)}, got {unit!r}")
        self.measure = LENGTH_UNITS[unit]

    def score(self, groups: Sequence[WEvalGroup]) -> list[GroupScores]:
        return [GroupScores(g.group_id, [float(self.measure(r.text)) for r in g.responses]) for g in groups]


class RandomScorer(Scorer):
    """Uniform random scores (seeded): the chance level of every metric."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    def score(self, groups: Sequence[WEvalGroup]) -> list[GroupScores]:
        rng = random.Random(self.seed)
        return [GroupScores(g.group_id, [rng.random() for _ in g.responses]) for g in groups]


class PrecomputedScorer(Scorer):
    """The ``score`` each response carries in the input file (e.g. the paper's ``rm_ranked.jsonl``)."""

    def score(self, groups: Sequence[WEvalGroup]) -> list[GroupScores]:
        results = []
        for group in groups:
            for i, response in enumerate(group.responses):
                if response.score is None:
                    source = group.where.source if group.where else group.group_id
                    line = response.meta.get("line", group.where.line if group.where else None)
                    raise RecordError(source, line, f"responses[{i}].score" if "line" not in response.meta else "score",
                                      "missing; scorer=precomputed needs a score for every response")
            results.append(GroupScores(group.group_id, [float(r.score) for r in group.responses]))
        return results

"""WEval ranking metrics: Kendall tau, position consistency and exact match of a score ranking vs gold.

Per group (gold = requirements kept, higher is better), then averaged over groups. Tie handling is a
registry (``ties=``):

- ``random`` (default): the exact expectation over uniformly random tie-breaks of equal scores, so a
  scorer gains nothing from ties (a constant scorer gets tau 0, position consistency ~0.5, exact match 1/n!).
- ``average``: ties stay ties — Kendall tau-b, average ranks; a tied group is never an exact match.
- ``reference``: the paper's script, reproduced: equal scores are ordered by gold (flattering).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from itertools import combinations

import numpy as np
from scipy.stats import bootstrap, kendalltau, rankdata

from wrl_lightning.data.records import WEvalGroup
from wrl_lightning.data.scores import GroupScores
from wrl_lightning.errors import ConfigError, RecordError
from wrl_lightning.utils.registry import registrar

METRICS = ("kendall_tau", "position_consistency", "exact_match")


@dataclass
class GroupResult:
    """Metrics of one group."""

    group_id: str
    size: int
    category: str
    kendall_tau: float
    position_consistency: float
    exact_match: float
    has_ties: bool


TieMode = Callable[[Sequence[float], Sequence[int]], tuple[float, float, float]]
TIE_MODES: dict[str, TieMode] = {}


register_tie_mode = registrar(TIE_MODES)


def _position_consistency(mean_abs_diff: float, n: int) -> float:
    return 1.0 - mean_abs_diff / (n - 1)


@register_tie_mode("reference")
def reference_metrics(scores: Sequence[float], gold: Sequence[int]) -> tuple[float, float, float]:
    """The paper's semantics: rank by (score, gold) descending, stable; gold rank by gold descending."""
    n = len(scores)
    by_score = sorted(range(n), key=lambda i: (scores[i], gold[i]), reverse=True)
    score_rank = [0] * n
    for position, i in enumerate(by_score, 1):
        score_rank[i] = position
    # The original sorts the "label" n - gold descending and flips the rank: n + 1 - rank.
    by_label = sorted(range(n), key=lambda i: n - gold[i], reverse=True)
    gold_rank = [0] * n
    for position, i in enumerate(by_label, 1):
        gold_rank[i] = n + 1 - position
    tau = kendalltau(score_rank, gold_rank).statistic
    mean_diff = sum(abs(a - b) for a, b in zip(score_rank, gold_rank, strict=True)) / n
    return float(tau), _position_consistency(mean_diff, n), float(score_rank == gold_rank)


@register_tie_mode("average")
def average_metrics(scores: Sequence[float], gold: Sequence[int]) -> tuple[float, float, float]:
    """Ties stay ties: tau-b (0 when all scores are equal), average ranks, exact match needs no ties."""
    n = len(scores)
    score_rank = rankdata([-s for s in scores], method="average")
    gold_rank = rankdata([-g for g in gold], method="average")
    tau = kendalltau(scores, gold).statistic
    tau = 0.0 if math.isnan(tau) else float(tau)
    mean_diff = float(np.abs(score_rank - gold_rank).mean())
    return tau, _position_consistency(mean_diff, n), float(np.array_equal(score_rank, gold_rank))


@register_tie_mode("random")
def random_tiebreak_metrics(scores: Sequence[float], gold: Sequence[int]) -> tuple[float, float, float]:
    """Exact expectation over uniformly random orderings of equal scores."""
    n = len(scores)
    concordant = discordant = gold_tied = 0
    for i, j in combinations(range(n), 2):
        if gold[i] == gold[j]:
            gold_tied += 1
        elif scores[i] != scores[j]:
            if (scores[i] - scores[j]) * (gold[i] - gold[j]) > 0:
                concordant += 1
            else:
                discordant += 1
    pairs = n * (n - 1) // 2
    tau = (concordant - discordant) / math.sqrt(pairs * (pairs - gold_tied))

    # Equal scores occupy a block of positions; each member is equally likely to sit at any of them.
    order = sorted(range(n), key=lambda i: -scores[i])
    gold_rank = rankdata([-g for g in gold], method="average")
    expected_diff = 0.0
    exact = 1.0
    start = 0
    while start < n:
        stop = start
        while stop < n and scores[order[stop]] == scores[order[start]]:
            stop += 1
        block = order[start:stop]
        positions = range(start + 1, stop + 1)
        for i in block:
            expected_diff += sum(abs(p - gold_rank[i]) for p in positions) / len(block)
        # P(a random order of the block agrees with gold) = prod(m! for gold-equal subgroups) / k!
        gold_counts = np.unique([gold[i] for i in block], return_counts=True)[1]
        exact *= math.prod(math.factorial(int(m)) for m in gold_counts) / math.factorial(len(block))
        start = stop
    if discordant:
        exact = 0.0
    return tau, _position_consistency(expected_diff / n, n), exact


def group_metrics(group: WEvalGroup, scores: Sequence[float], ties: str) -> GroupResult:
    """Metrics of one group under tie mode ``ties``."""
    if ties not in TIE_MODES:
        raise ConfigError("weval.ties", f"unknown tie mode {ties!r} (known: {', '.join(TIE_MODES)})")
    gold = group.gold
    if len(scores) != len(gold):
        raise ValueError(f"group {group.group_id}: {len(scores)} scores for {len(gold)} responses")
    if len(set(gold)) < 2:
        where = group.where
        raise RecordError(where.source if where else group.group_id, where.line if where else None, "responses",
                          f"group {group.group_id!r}: every response keeps the same number of requirements; no ranking to evaluate")
    tau, consistency, exact = TIE_MODES[ties](scores, gold)
    return GroupResult(
        group_id=group.group_id,
        size=group.size,
        category=group.category,
        kendall_tau=tau,
        position_consistency=consistency,
        exact_match=exact,
        has_ties=len(set(scores)) < len(scores),
    )


def confidence_interval(values: Sequence[float], resamples: int, seed: int) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the mean (degenerate samples give a zero-width interval)."""
    data = np.asarray(values, dtype=float)
    if resamples <= 0 or len(data) < 2 or np.all(data == data[0]):
        mean = float(data.mean()) if len(data) else float("nan")
        return mean, mean
    result = bootstrap((data,), np.mean, n_resamples=resamples, method="percentile", confidence_level=0.95, rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _summary(results: Sequence[GroupResult], prefix: str, resamples: int = 0, seed: int = 0) -> dict[str, float]:
    summary: dict[str, float] = {f"{prefix}n_groups": len(results)}
    for name in METRICS:
        values = [getattr(r, name) for r in results]
        summary[f"{prefix}{name}"] = float(np.mean(values))
        if resamples:
            low, high = confidence_interval(values, resamples, seed)
            summary[f"{prefix}{name}_ci_low"], summary[f"{prefix}{name}_ci_high"] = low, high
    return summary


def requirement_pair_accuracy(groups: Sequence[WEvalGroup], scored: Sequence[GroupScores]) -> dict[str, tuple[float, int]]:
    """Per requirement type: how often a response that kept requirement j outscores one that dropped it
    (on j's own score when the scorer has per-requirement scores, else on the response score; ties 0.5)."""
    wins: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for group, result in zip(groups, scored, strict=True):
        if any(response.kept is None for response in group.responses):
            continue
        for j, requirement in enumerate(group.requirements):
            kept = [i for i, response in enumerate(group.responses) if response.kept[j]]
            dropped = [i for i, response in enumerate(group.responses) if not response.kept[j]]
            for p in kept:
                for q in dropped:
                    a, b = _pair_scores(result, p, q, j)
                    wins[requirement.type] += 1.0 if a > b else 0.5 if a == b else 0.0
                    counts[requirement.type] += 1
    return {name: (wins[name] / counts[name], counts[name]) for name in counts}


def _pair_scores(result: GroupScores, p: int, q: int, j: int) -> tuple[float, float]:
    table = result.requirement_scores
    if table is not None and table[p][j] is not None and table[q][j] is not None:
        return table[p][j], table[q][j]
    return result.scores[p], result.scores[q]


def evaluate(
    groups: Sequence[WEvalGroup],
    scored: Sequence[GroupScores],
    ties: str = "random",
    bootstrap_resamples: int = 1000,
    seed: int = 0,
) -> tuple[dict[str, float], list[GroupResult]]:
    """Flat metrics (overall with 95% CIs, by group size, by category, by requirement type) and per-group
    results. Keys: ``kendall_tau``, ``position_consistency``, ``exact_match`` (fractions), ``n_groups``,
    ``n_tied_groups``, ``size/<c>/…``, ``category/<name>/…``, ``type/<name>/pair_accuracy``."""
    if len(groups) != len(scored):
        raise ValueError(f"{len(scored)} score sets for {len(groups)} groups")
    results = [group_metrics(group, s.scores, ties) for group, s in zip(groups, scored, strict=True)]
    metrics = _summary(results, "", bootstrap_resamples, seed)
    metrics["n_tied_groups"] = sum(r.has_ties for r in results)
    metrics["ties"] = ties
    for key, attribute in (("size", "size"), ("category", "category")):
        buckets: dict[str, list[GroupResult]] = defaultdict(list)
        for result in results:
            buckets[str(getattr(result, attribute))].append(result)
        for name in sorted(buckets):
            metrics.update(_summary(buckets[name], f"{key}/{name}/"))
    accuracy = requirement_pair_accuracy(groups, scored)
    if accuracy:
        total = sum(n for _, n in accuracy.values())
        metrics["pair_accuracy"] = sum(acc * n for acc, n in accuracy.values()) / total
        for name in sorted(accuracy):
            metrics[f"type/{name}/pair_accuracy"], metrics[f"type/{name}/n_pairs"] = accuracy[name]
    return metrics, results


def result_rows(results: Sequence[GroupResult]) -> list[dict]:
    """Per-group results as plain dicts."""
    return [asdict(r) for r in results]

"""WEval metrics: the paper's semantics (ties=reference), the honest tie modes, breakdowns, bootstrap."""

from __future__ import annotations

import itertools
import json
import math

import pytest
from scipy.stats import kendalltau

from wrl_lightning.data.records import Requirement, Response, WEvalGroup
from wrl_lightning.data.scores import GroupScores
from wrl_lightning.errors import RecordError
from wrl_lightning.scoring.heuristic import PrecomputedScorer
from wrl_lightning.weval.importers import load_groups
from wrl_lightning.weval.metrics import evaluate, group_metrics


def make_group(gold, group_id="g", kept=None, types=None):
    size = max(gold)
    requirements = [Requirement(f"requirement {j}", type=(types or ["length"] * size)[j]) for j in range(size)]
    responses = [
        Response(text=f"response {i}", n_kept=g, kept=kept[i] if kept else [j < g for j in range(size)])
        for i, g in enumerate(gold)
    ]
    return WEvalGroup(group_id, "prompt", requirements, responses)


def original_semantics(rows, group_size):
    """An oracle written from the paper's published metric procedure, applied to raw file rows:
    consecutive `group_size` rows form a group (a trailing partial group is ignored); rows are ranked by
    (score, number of kept ids) descending, gold by kept ids; Kendall tau (scipy), position consistency and
    whole-order equality are averaged over groups."""
    taus, consistencies, exacts = [], [], []
    for start in range(0, len(rows) - group_size + 1, group_size):
        group = rows[start : start + group_size]
        order = sorted(range(group_size), key=lambda i: (group[i]["score"], len(group[i]["instruction_id_list"])), reverse=True)
        score_rank = {i: r for r, i in enumerate(order, 1)}
        label = [group_size - len(row["instruction_id_list"]) for row in group]
        label_order = sorted(range(group_size), key=lambda i: label[i], reverse=True)
        label_rank = {i: r for r, i in enumerate(label_order, 1)}
        a = [score_rank[i] for i in range(group_size)]
        b = [group_size + 1 - label_rank[i] for i in range(group_size)]
        taus.append(kendalltau(a, b)[0])
        consistencies.append(1 - (sum(abs(x - y) for x, y in zip(a, b)) / group_size) / (group_size - 1))
        exacts.append(1.0 if a == b else 0.0)
    return sum(taus) / len(taus), sum(consistencies) / len(consistencies), sum(exacts) / len(exacts)


def reference_rows(rng, n_groups, size, score_values):
    rows = []
    for g in range(n_groups):
        kept_counts = rng.sample(range(1, size + 1), size)  # a shuffled permutation of 1..size
        for n_kept in kept_counts:
            rows.append({
                "prompt": f"prompt {g}",
                "chosen": f"response {g}-{n_kept}",
                "constraint": [f"c{j}" for j in range(size)],
                "instruction_id_list": [f"id{j}" for j in range(n_kept)],
                "score": rng.choice(score_values),
            })
    return rows


@pytest.mark.parametrize("size", [3, 4, 5])
@pytest.mark.parametrize("score_values", [[0.1, 0.2, 0.3, 0.4, 0.9], [0.0, 1.0], [0.5]])
def test_reference_ties_match_original_semantics(tmp_path, size, score_values):
    import random

    rng = random.Random(size * 7 + len(score_values))
    rows = reference_rows(rng, 40, size, score_values)
    rows.append(dict(rows[0]))  # a trailing partial group is dropped, as in the original
    path = tmp_path / f"eval_{size}c.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    groups = load_groups(path, "reference")
    assert len(groups) == 40 and all(g.size == size for g in groups)
    metrics, _ = evaluate(groups, PrecomputedScorer().score(groups), ties="reference", bootstrap_resamples=0)
    expected = original_semantics(rows, size)
    assert metrics["kendall_tau"] == pytest.approx(expected[0], abs=1e-9)
    assert metrics["position_consistency"] == pytest.approx(expected[1], abs=1e-9)
    assert metrics["exact_match"] == pytest.approx(expected[2], abs=1e-9)


def _strict_metrics(ranking, gold):
    """Metrics of one strict ranking (list of response indices, best first) against gold."""
    n = len(gold)
    rank = {i: p for p, i in enumerate(ranking, 1)}
    order = sorted(range(n), key=lambda i: -gold[i])
    gold_rank = {i: p for p, i in enumerate(order, 1)}
    a = [rank[i] for i in range(n)]
    b = [gold_rank[i] for i in range(n)]
    tau = kendalltau(a, b)[0]
    return tau, 1 - sum(abs(x - y) for x, y in zip(a, b)) / n / (n - 1), float(a == b)


@pytest.mark.parametrize(
    "scores", [[0.9, 0.5, 0.5, 0.1], [0.3, 0.3, 0.3, 0.3, 0.3], [1, 2, 2, 3, 3], [0.2, 0.2, 0.9], [5, 4, 3, 2, 1]]
)
def test_random_tie_mode_is_exact_expectation_over_tie_breaks(scores):
    gold = list(range(len(scores), 0, -1))  # response 0 kept the most
    group = make_group(gold)
    # Enumerate every ordering of the tied blocks and average the strict metrics.
    blocks = [list(b) for _, b in itertools.groupby(sorted(range(len(scores)), key=lambda i: -scores[i]), key=lambda i: scores[i])]
    outcomes = [
        _strict_metrics([i for block in choice for i in block], gold)
        for choice in itertools.product(*[list(itertools.permutations(b)) for b in blocks])
    ]
    expected = [sum(values) / len(values) for values in zip(*outcomes)]
    result = group_metrics(group, scores, "random")
    assert result.kendall_tau == pytest.approx(expected[0], abs=1e-12)
    assert result.position_consistency == pytest.approx(expected[1], abs=1e-12)
    assert result.exact_match == pytest.approx(expected[2], abs=1e-12)
    assert result.has_ties == (len(set(scores)) < len(scores))


@pytest.mark.parametrize("size", [3, 4, 5])
def test_constant_scores_are_chance_not_flattering(size):
    group = make_group(list(range(size, 0, -1)))
    constant = [0.5] * size
    random_mode = group_metrics(group, constant, "random")
    assert random_mode.kendall_tau == pytest.approx(0.0)
    assert random_mode.exact_match == pytest.approx(1 / math.factorial(size))
    # E|U - V| for independent uniform ranks on 1..n is (n^2 - 1) / (3n).
    assert random_mode.position_consistency == pytest.approx(1 - (size**2 - 1) / (3 * size) / (size - 1))
    average_mode = group_metrics(group, constant, "average")
    assert (average_mode.kendall_tau, average_mode.exact_match) == (0.0, 0.0)
    # The original's gold-informed tie-break turns a constant scorer into a perfect one.
    reference_mode = group_metrics(group, constant, "reference")
    assert (reference_mode.kendall_tau, reference_mode.position_consistency, reference_mode.exact_match) == pytest.approx((1.0, 1.0, 1.0))


@pytest.mark.parametrize("size", [3, 4, 5])
@pytest.mark.parametrize("ties", ["random", "average", "reference"])
def test_perfect_and_reversed_scores(size, ties):
    gold = [2, size, 1] + list(range(3, size))  # shuffled positions
    group = make_group(gold)
    perfect = group_metrics(group, [float(g) for g in gold], ties)
    assert (perfect.kendall_tau, perfect.position_consistency, perfect.exact_match) == pytest.approx((1.0, 1.0, 1.0))
    reverse = group_metrics(group, [-float(g) for g in gold], ties)
    assert reverse.kendall_tau == pytest.approx(-1.0) and reverse.exact_match == 0.0
    assert reverse.position_consistency == pytest.approx(1 - sum(abs((size + 1 - r) - r) for r in range(1, size + 1)) / size / (size - 1))


def test_group_without_gold_spread_is_rejected():
    group = make_group([2, 2, 2])
    with pytest.raises(RecordError, match="same number of requirements"):
        group_metrics(group, [1.0, 2.0, 3.0], "random")


def test_breakdowns_by_size_category_and_type():
    groups = [make_group([3, 2, 1], "a", types=["length", "format", "style"]), make_group([4, 3, 2, 1], "b", types=["length"] * 4)]
    groups[0].category = "creative"
    groups[1].category = "academic"
    scored = [GroupScores("a", [3.0, 2.0, 1.0]), GroupScores("b", [1.0, 2.0, 3.0, 4.0])]
    metrics, results = evaluate(groups, scored, bootstrap_resamples=200)
    assert metrics["n_groups"] == 2 and metrics["kendall_tau"] == pytest.approx(0.0)
    assert metrics["size/3/kendall_tau"] == 1.0 and metrics["size/4/kendall_tau"] == -1.0
    assert metrics["category/creative/exact_match"] == 1.0 and metrics["category/academic/exact_match"] == 0.0
    assert metrics["kendall_tau_ci_low"] <= metrics["kendall_tau"] <= metrics["kendall_tau_ci_high"]
    # Group a ranks perfectly: every (kept, dropped) pair is won; group b loses all of its 10 length pairs.
    assert metrics["type/format/pair_accuracy"] == 1.0 and metrics["type/style/pair_accuracy"] == 1.0
    assert metrics["type/length/n_pairs"] == 3 + 4 + 3 and metrics["type/length/pair_accuracy"] == 0.0
    assert [r.group_id for r in results] == ["a", "b"]


def test_requirement_level_scores_drive_type_accuracy():
    group = make_group([2, 1], "a", types=["length", "format"])
    # Response scores say the worse response wins, but per-requirement scores are right for `format`.
    scored = [GroupScores("a", [0.0, 1.0], requirement_scores=[[0.1, 0.9], [0.2, 0.3]])]
    metrics, _ = evaluate([group], scored, bootstrap_resamples=0)
    assert metrics["type/format/pair_accuracy"] == 1.0 and metrics["type/format/n_pairs"] == 1

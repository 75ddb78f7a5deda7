"""Pair construction library: strategies, pairing, split by prompt, prompt files, verification, stats."""

from __future__ import annotations

import random

import pytest

from wrl_lightning.data.records import Pair, Requirement
from wrl_lightning.errors import RecordError
from wrl_lightning.generation.base import GenerationRequest, Generator
from wrl_lightning.pairs.build import generate_groups, plan_masks, request_for
from wrl_lightning.pairs.pairing import SELECTORS, select_pairs
from wrl_lightning.pairs.split import split_by_prompt
from wrl_lightning.pairs.stats import noise_stats, pair_stats
from wrl_lightning.pairs.strategies import STRATEGIES, mask_key
from wrl_lightning.pairs.verify import drop_noisy, verify_pairs
from wrl_lightning.requirements.prompts import PromptRecord, load_prompt_file
from wrl_lightning.utils.files import write_jsonl

T, F = True, False
WORDS = {"text": "Use the word lantern.", "type": "lexical", "checker": "writing:required_words", "kwargs": {"words": ["lantern"]}}
NO_SUDDENLY = {"text": 'Avoid "suddenly".', "type": "lexical", "checker": "writing:forbidden_words", "kwargs": {"words": ["suddenly"]}}


def record(n: int = 3, prompt_id: str = "p") -> PromptRecord:
    requirements = [Requirement(text=f"Requirement {i}.", type="content") for i in range(n)]
    return PromptRecord(id=prompt_id, prompt=f"Write about topic {prompt_id}.", category="creative", requirements=requirements)


class Describe(Generator):
    """Writes which requirements a request keeps and drops (to check what reaches the generator)."""

    def __init__(self):
        self.requests: list[GenerationRequest] = []

    def generate(self, requests):
        self.requests += requests
        return [f"kept={len(r.requirements)} dropped={len(r.dropped)}" for r in requests]


def test_levels_and_drop_one_masks():
    assert STRATEGIES["levels"](3) == [(F, F, F), (T, F, F), (T, T, F), (T, T, T)]
    assert STRATEGIES["drop_one"](3) == [(T, T, T), (F, T, T), (T, F, T), (T, T, F)]
    assert mask_key((T, F, T)) == "101"


def test_random_subsets_are_distinct_seeded_and_capped():
    masks = STRATEGIES["random_subsets"](5, rng=random.Random(1), subsets=6)
    assert masks[0] == (T,) * 5 and len(set(masks)) == 7 and (T,) * 5 not in masks[1:]
    assert masks == STRATEGIES["random_subsets"](5, rng=random.Random(1), subsets=6)
    assert len(STRATEGIES["random_subsets"](2, rng=random.Random(1), subsets=10)) == 4  # full + 3 proper subsets


def test_generated_groups_carry_masks_and_requests():
    records = [record(3, "a"), record(2, "b")]
    generator = Describe()
    groups = generate_groups(records, plan_masks(records, "levels", 0, 4), generator)
    assert [len(g.responses) for g in groups] == [4, 3]
    first = groups[0]
    assert first.prompt == records[0].full_prompt() and first.gold == [0, 1, 2, 3]
    assert first.responses[2].kept == [T, T, F] and first.responses[2].text == "kept=2 dropped=1"
    assert first.responses[2].meta["request_id"] == "a:110"
    assert generator.requests[1].prompt == "Write about topic a. Requirement 0."
    assert request_for(records[0], (F, T, F)).dropped == [records[0].requirements[0], records[0].requirements[2]]


@pytest.mark.parametrize("strategy", ["levels", "drop_one"])
def test_contrast_pairs_differ_only_in_their_requirement(strategy):
    groups = generate_groups([record(4)], plan_masks([record(4)], strategy, 0, 4), Describe())
    pairs = select_pairs(groups, "contrast", strategy)
    assert len(pairs) == 8 and sum(p.label for p in pairs) == 4
    by_requirement: dict[int, list[Pair]] = {}
    for pair in pairs:
        by_requirement.setdefault(pair.meta["requirement_index"], []).append(pair)
    for q, two in by_requirement.items():
        negative, positive = sorted(two, key=lambda pair: pair.label)
        kept_pos = groups[0].responses[positive.meta["response_index"]].kept
        kept_neg = groups[0].responses[negative.meta["response_index"]].kept
        assert positive.label == 1 and negative.label == 0 and kept_pos[q] and not kept_neg[q]
        assert sum(a != b for a, b in zip(kept_pos, kept_neg, strict=True)) == 1
    if strategy == "drop_one":
        assert all(p.meta["response_index"] == 0 for p in pairs if p.label == 1)


def test_all_pairing_labels_every_cell():
    groups = generate_groups([record(3)], plan_masks([record(3)], "levels", 0, 4), Describe())
    pairs = select_pairs(groups, "all", "levels")
    assert len(pairs) == 12 and sum(p.label for p in pairs) == 6
    assert set(SELECTORS) >= {"all", "contrast"}


def test_split_keeps_each_prompt_on_one_side():
    prompts = {f"g{i}": f"Prompt {i % 5}" for i in range(10)} | {"dup": "  prompt 0 "}
    held_out = split_by_prompt(prompts, 0.2, seed=0)
    eval_prompts = {prompts[g].strip().lower() for g in held_out}
    train_prompts = {prompts[g].strip().lower() for g in prompts if g not in held_out}
    assert len(eval_prompts) == 1 and not eval_prompts & train_prompts
    assert ("dup" in held_out) == ("g0" in held_out)
    assert split_by_prompt(prompts, 0.2, seed=0) == held_out
    assert split_by_prompt(prompts, 0.0, seed=0) == set()
    assert len(split_by_prompt({"a": "x", "b": "y"}, 0.01, seed=0)) == 1


def test_prompt_file_accepts_strings_and_objects(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [
        {"prompt": "Write a poem about rain.", "requirements": ["Use exactly three stanzas.", WORDS]},
        {"prompt_id": "x", "prompt": "Draft an email to my boss.", "category": "functional", "requirements": [NO_SUDDENLY]},
    ])
    first, second = load_prompt_file(path)
    assert first.id == "p-1" and first.category == "creative"
    assert first.requirements[0].type == "length" and first.requirements[1].checker == "writing:required_words"
    assert second.id == "x" and second.category == "functional"


@pytest.mark.parametrize(("row", "message"), [
    ({"prompt": "  ", "requirements": ["x"]}, ":2: prompt: missing or empty"),
    ({"prompt": "Write.", "requirements": []}, ":2: requirements: expected a non-empty list"),
    ({"prompt": "Write.", "requirements": [{"text": "Be nice.", "type": "vibes"}]}, "requirements[0].type: unknown requirement type 'vibes'"),
    ({"prompt": "Write.", "requirements": [{**WORDS, "kwargs": {"words": 3}}]}, "requirements[0].kwargs.words: expected a non-empty list"),
    ({"prompt": "Write.", "requirements": [{**WORDS, "checker": "no:such"}]}, "requirements[0].checker: unknown checker id 'no:such'"),
    ({"prompt_id": "a", "prompt": "Write.", "requirements": ["x"]}, ":2: prompt_id: duplicate 'a'"),
])
def test_prompt_file_errors_name_the_record(tmp_path, row, message):
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt_id": "a", "prompt": "Fine.", "requirements": ["ok"]}, row])
    with pytest.raises(RecordError) as err:
        load_prompt_file(path)
    assert str(err.value).startswith(str(path)) and message in str(err.value)


def test_verification_flags_and_filters_wrong_labels():
    words = Requirement(**WORDS)
    pairs = [
        Pair("p", "The lantern glowed.", words, 1, "g"),
        Pair("p", "The lamp glowed.", words, 1, "g"),  # label says kept, checker disagrees
        Pair("p", "The lamp glowed.", words, 0, "g"),
        Pair("p", "Anything.", Requirement("Be warm.", "style"), 1, "g"),
    ]
    verify_pairs(pairs)
    assert [p.verified for p in pairs] == [True, False, True, None]
    noise = noise_stats(pairs)
    assert noise["verifiable"] == 3 and noise["noisy"] == 1 and noise["rate"] == pytest.approx(1 / 3)
    assert noise["rate_by_type"] == {"lexical": pytest.approx(1 / 3)}
    assert [p.response for p in drop_noisy(pairs)] == ["The lantern glowed.", "The lamp glowed.", "Anything."]


def test_pair_stats_counts_and_lengths():
    pairs = [
        Pair("p", "one two three", Requirement("a", "length"), 1, "g", category="creative"),
        Pair("p", "one", Requirement("b", "style"), 0, "g", category="creative"),
    ]
    stats = pair_stats(pairs, tokens=lambda texts: [2 * len(t.split()) for t in texts])
    assert stats["count"] == 2 and stats["positive_rate"] == 0.5
    assert stats["by_type"] == {"length": 1, "style": 1} and stats["by_category"] == {"creative": 2}
    assert stats["response_words"] == {"mean": 2.0, "max": 3, "total": 4}
    assert stats["response_tokens"]["total"] == 8

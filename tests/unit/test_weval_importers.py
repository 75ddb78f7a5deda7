"""WEval importers: canonical / reference / levels, group sizes 3-5 and mixed, malformed input."""

from __future__ import annotations

import json

import pytest

from wrl_lightning.errors import ConfigError, RecordError
from wrl_lightning.utils.files import write_jsonl
from wrl_lightning.weval.importers import infer_group_size, load_groups


def canonical_group(group_id, size, **extra):
    return {
        "group_id": group_id,
        "prompt": "Write a short poem about rain.",
        "category": "creative",
        "requirements": [{"text": f"Use at least {j + 1} stanzas.", "type": "length"} for j in range(size)],
        "responses": [{"text": f"poem {k}", "kept": [j < k for j in range(size)]} for k in range(1, size + 1)],
        **extra,
    }


def write_lines(path, lines):
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def test_canonical_mixed_sizes(tmp_path):
    path = write_jsonl(tmp_path / "groups.jsonl", [canonical_group("a", 3), canonical_group("b", 4), canonical_group("c", 5)])
    groups = load_groups(path, "canonical")
    assert [g.size for g in groups] == [3, 4, 5]
    assert groups[2].gold == [1, 2, 3, 4, 5]
    assert groups[0].category == "creative" and groups[0].requirements[0].type == "length"


def test_canonical_roundtrip(tmp_path):
    path = write_jsonl(tmp_path / "groups.jsonl", [canonical_group("a", 4)])
    group = load_groups(path, "canonical")[0]
    again = write_jsonl(tmp_path / "again.jsonl", [group.to_dict()])
    assert load_groups(again, "canonical")[0].to_dict() == group.to_dict()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "groups.jsonl:2: json: invalid JSON"),
        (json.dumps({**canonical_group("x", 3), "requirements": []}), "groups.jsonl:2: requirements: expected a non-empty list"),
        (json.dumps({**canonical_group("x", 3), "prompt": ""}), "groups.jsonl:2: prompt: empty"),
        (json.dumps({**canonical_group("x", 3), "category": "poetry"}), "groups.jsonl:2: category: unknown category 'poetry'"),
        (json.dumps(canonical_group("a", 3)), "groups.jsonl:2: group_id: duplicate 'a'"),
        (json.dumps({**canonical_group("x", 3), "requirements": [{"text": "t", "type": "vibes"}] * 3}), "requirements\\[0\\].type: unknown requirement type 'vibes'"),
        (json.dumps({**canonical_group("x", 3), "responses": [{"text": "r", "kept": [True]}] * 2}), "responses\\[0\\].kept: has 1 flags for 3 requirements"),
        (json.dumps({**canonical_group("x", 3), "responses": [{"text": "r"}] * 2}), "responses\\[0\\]: needs 'kept'"),
        (json.dumps({**canonical_group("x", 3), "responses": [{"text": "r", "n_kept": 1, "score": "high"}] * 2}), "responses\\[0\\].score: expected a finite number"),
        ("[1, 2]", "groups.jsonl:2: json: expected an object"),
    ],
)
def test_canonical_malformed_names_file_line_field(tmp_path, line, message):
    path = write_lines(tmp_path / "groups.jsonl", [canonical_group("a", 3), line])
    with pytest.raises(RecordError, match=message):
        load_groups(path, "canonical")


def reference_rows(n_groups, size, with_score=True):
    rows = []
    for g in range(n_groups):
        for n_kept in range(size, 0, -1):
            row = {"prompt": f"p{g}", "chosen": f"r{g}{n_kept}", "constraint": [f"c{j}" for j in range(size)],
                   "instruction_id_list": [f"i{j}" for j in range(n_kept)]}
            if with_score:
                row["score"] = n_kept / size
            rows.append(row)
    return rows


@pytest.mark.parametrize("size", [3, 4, 5])
def test_reference_group_size_from_file_name(tmp_path, size):
    path = write_jsonl(tmp_path / f"eval_{size}c.jsonl", reference_rows(3, size))
    assert infer_group_size(path) == size
    groups = load_groups(path, "reference")
    assert len(groups) == 3 and {g.size for g in groups} == {size}
    assert groups[0].gold == list(range(size, 0, -1))
    assert groups[0].responses[0].score == 1.0


def test_reference_explicit_size_and_missing_size(tmp_path):
    path = write_jsonl(tmp_path / "eval.jsonl", reference_rows(2, 4))
    assert len(load_groups(path, "reference", group_size=4)) == 2
    with pytest.raises(ConfigError, match="weval.group_size"):
        load_groups(path, "reference")


def test_reference_malformed_row(tmp_path):
    rows = reference_rows(2, 3)
    rows[4]["constraint"] = "not a list"
    path = write_jsonl(tmp_path / "eval_3c.jsonl", rows)
    with pytest.raises(RecordError, match="eval_3c.jsonl:5: constraint: expected a non-empty list"):
        load_groups(path, "reference")


def test_reference_per_row_constraints_become_scored_on(tmp_path):
    rows = reference_rows(1, 3)
    rows[2]["constraint"] = ["c0"]  # this response is scored against the first requirement only
    groups = load_groups(write_jsonl(tmp_path / "eval_3c.jsonl", rows), "reference")
    assert groups[0].requirement_indices(0) == [0, 1, 2] and groups[0].requirement_indices(2) == [0]


def levels_rows(group_id, size):
    requirements = [f"Write at least {j + 2} paragraphs." for j in range(size)]
    return [{"group_id": group_id, "full_prompt": "Write an essay about tides. " + " ".join(requirements), "level": k,
             "requirements": requirements, "n_kept": k, "response": f"essay {k}"} for k in range(size, 0, -1)]


def test_levels_groups_and_kept_flags(tmp_path):
    path = write_jsonl(tmp_path / "levels.jsonl", levels_rows("w1", 5) + levels_rows("w2", 3))
    groups = load_groups(path, "levels")
    assert [g.size for g in groups] == [5, 3]
    first = groups[0]
    assert first.gold == [1, 2, 3, 4, 5]
    assert first.responses[1].kept == [True, True, False, False, False]
    assert first.category == "academic" and first.requirements[0].type == "length"


def test_levels_repeated_level_is_an_error(tmp_path):
    rows = levels_rows("w1", 3)
    rows[1]["level"] = 3
    rows[1]["n_kept"] = 3
    with pytest.raises(RecordError, match="repeats a level"):
        load_groups(write_jsonl(tmp_path / "levels.jsonl", rows), "levels")


def test_levels_missing_field(tmp_path):
    rows = levels_rows("w1", 3)
    del rows[2]["response"]
    with pytest.raises(RecordError, match="levels.jsonl:3: response: missing"):
        load_groups(write_jsonl(tmp_path / "levels.jsonl", rows), "levels")


def test_real_levels_file(levels_file):
    groups = load_groups(levels_file, "levels")
    assert len(groups) == 200 and {g.size for g in groups} == {5}
    assert all(g.gold == [1, 2, 3, 4, 5] for g in groups)


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="weval.format"):
        load_groups(tmp_path / "x.jsonl", "csv")
    with pytest.raises(RecordError, match="does not exist"):
        load_groups(tmp_path / "nope.jsonl", "canonical")


def test_parquet_input(tmp_path):
    from datasets import Dataset

    rows = reference_rows(2, 3)
    Dataset.from_list(rows).to_parquet(str(tmp_path / "eval_3c.parquet"))
    groups = load_groups(tmp_path / "eval_3c.parquet", "reference")
    assert len(groups) == 2 and groups[1].gold == [3, 2, 1]

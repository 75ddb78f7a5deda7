"""The embedded writing prompts and WEval groups: coverage, label noise, visible contrasts, deterministic rebuild."""

from __future__ import annotations

import json
import re

import pytest

from wrl_lightning.data.records import WEvalGroup, Where, group_from_row
from wrl_lightning.data.taxonomy import CATEGORIES, REQUIREMENT_TYPES
from wrl_lightning.generation.edit import EditGenerator
from wrl_lightning.pairs import build_builtin
from wrl_lightning.requirements.checkers import CHECKERS, check_requirement
from wrl_lightning.requirements.prompts import load_builtin_prompts
from wrl_lightning.utils.resolvers import BUILTIN_DIR

#: Share of checked labels (response, requirement with a checker) whose checker verdict may disagree.
MAX_LABEL_NOISE = 0.02


@pytest.fixture(scope="module")
def groups() -> list[WEvalGroup]:
    lines = (BUILTIN_DIR / "weval_demo.jsonl").read_text(encoding="utf-8").splitlines()
    return [group_from_row(json.loads(line), Where("weval_demo.jsonl", i + 1)) for i, line in enumerate(lines)]


def test_prompts_cover_the_taxonomy():
    records = load_builtin_prompts()
    assert len(records) >= 250 and len({r.id for r in records}) == len(records)
    assert {r.category for r in records} == set(CATEGORIES) - {"unknown"}
    assert {q.type for r in records for q in r.requirements} == set(REQUIREMENT_TYPES) - {"unknown"}
    assert all(3 <= len(r.requirements) <= 5 for r in records)
    assert all(q.checker is None or q.checker in CHECKERS for r in records for q in r.requirements)
    checked = sum(q.checker is not None for r in records for q in r.requirements)
    assert checked / sum(len(r.requirements) for r in records) >= 0.7  # most labels can be verified by rule
    assert len({r.full_prompt() for r in records}) == len(records)


def test_groups_are_prefix_levels_of_every_prompt(groups):
    assert [g.group_id for g in groups] != sorted(g.group_id for g in groups)  # interleaved by category
    assert {g.group_id for g in groups} == {r.id for r in load_builtin_prompts()}
    for group in groups:
        assert [r.n_kept for r in group.responses] == list(range(1, group.size + 1))
        assert len({r.text for r in group.responses}) == group.size


def test_label_noise_of_checked_requirements(groups):
    checked = [(q, response.text, kept) for g in groups for response in g.responses
               for q, kept in zip(g.requirements, response.kept, strict=True) if q.checker]
    wrong = sum(check_requirement(q, text) != kept for q, text, kept in checked)
    assert len(checked) >= 3000
    assert wrong / len(checked) <= MAX_LABEL_NOISE, f"{wrong} of {len(checked)} checked labels disagree"


def test_dropped_requirements_are_visible_in_the_text(groups):
    """Kept and dropped differ in the words: required words appear only when kept, banned ones only when dropped."""
    seen = 0
    for group in groups:
        for i, q in enumerate(group.requirements):
            if q.checker not in ("writing:required_words", "writing:forbidden_words", "writing:markdown_table"):
                continue
            for response in group.responses:
                if q.checker == "writing:markdown_table":
                    assert ("|---" in response.text) == response.kept[i]
                    continue
                present = re.search(rf"(?<!\w){re.escape(q.kwargs['words'][0])}(?!\w)", response.text, re.I)
                assert bool(present) == (response.kept[i] == (q.checker == "writing:required_words")), response.text
                seen += 1
    assert seen >= 300


def test_rebuild_of_some_prompts_matches_the_shipped_files(groups):
    """One composed prompt per category and two hand-written ones come out byte for byte as shipped."""
    lines = (BUILTIN_DIR / "prompts.jsonl").read_text(encoding="utf-8").splitlines()
    shipped = {row["id"]: row for row in map(json.loads, lines)}
    demo = {g.group_id: g.to_dict() for g in groups}
    generator = EditGenerator(seed=build_builtin.SEED, max_candidates=build_builtin.MAX_CANDIDATES)
    for category in ("creative", "functional", "academic", "persuasive", "personal", "informational"):
        row, group = build_builtin.composed(category, 1, generator, build_builtin.SEED)
        assert json.dumps(row) == json.dumps(shipped[row["id"]]) and group.to_dict() == demo[group.group_id]
    for record in load_builtin_prompts()[:2]:
        assert build_builtin.build_group(record, generator).to_dict() == demo[record.id]


@pytest.mark.slow
def test_full_rebuild_is_byte_identical(tmp_path):
    build_builtin.write(tmp_path)
    for name in ("prompts.jsonl", "weval_demo.jsonl"):
        assert (tmp_path / name).read_bytes() == (BUILTIN_DIR / name).read_bytes(), name

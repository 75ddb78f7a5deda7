"""The ``edit`` generator: kept requirements pass their checkers, dropped ones fail; the embedded data."""

from __future__ import annotations

import json

import pytest

from tests.unit.test_checkers import SAMPLE_KWARGS
from wrl_lightning.data.records import Requirement, Where, group_from_row
from wrl_lightning.data.taxonomy import REQUIREMENT_TYPES
from wrl_lightning.errors import RecordError, WrlError
from wrl_lightning.generation.base import GenerationRequest
from wrl_lightning.generation.edit import EditGenerator, as_request
from wrl_lightning.generation.edit_steps import PLANS
from wrl_lightning.generation.edit_text import topic_of
from wrl_lightning.requirements.checkers import CHECKERS, check_requirement, make_requirement
from wrl_lightning.requirements.prompts import load_builtin_prompts, load_prompt_file
from wrl_lightning.utils.resolvers import BUILTIN_DIR

PROMPT = "Write a short article about a quiet harbour town in winter."


@pytest.fixture(scope="module")
def generator() -> EditGenerator:
    return EditGenerator(seed=0)


def test_every_checker_has_a_plan():
    assert set(PLANS) == set(CHECKERS)


@pytest.mark.parametrize("checker_id", sorted(SAMPLE_KWARGS))
def test_single_requirement_kept_and_dropped(generator, checker_id):
    requirement = make_requirement(checker_id, SAMPLE_KWARGS[checker_id])
    kept = generator.write(as_request(PROMPT, [requirement], [True], "keep"))
    dropped = generator.write(as_request(PROMPT, [requirement], [False], "drop"))
    assert check_requirement(requirement, kept.text, prompt=PROMPT), kept.text
    assert not check_requirement(requirement, dropped.text, prompt=PROMPT), dropped.text
    assert kept.exact and dropped.exact


@pytest.mark.parametrize("record", load_builtin_prompts()[:12], ids=lambda r: r.id)
def test_every_prefix_of_a_prompts_requirements(generator, record):
    c = len(record.requirements)
    for k in range(c + 1):
        kept = [i < k for i in range(c)]
        result = generator.write(as_request(record.full_prompt(kept), record.requirements, kept, f"{record.id}-{k}"))
        verdicts = [check_requirement(r, result.text) for r in record.requirements]
        assert verdicts == kept, (k, result.text)


def test_deterministic_and_seeded(generator):
    requirements = [make_requirement("writing:word_count", {"min_words": 50, "max_words": 120})]
    first = generator.generate([as_request(PROMPT, requirements, [True], "a")])
    assert first == generator.generate([as_request(PROMPT, requirements, [True], "a")])
    assert first != generator.generate([as_request(PROMPT, requirements, [True], "a", seed=7)])
    assert first != EditGenerator(seed=1).generate([as_request(PROMPT, requirements, [True], "a")])


def test_unverifiable_requirements_are_ignored(generator):
    request = GenerationRequest(prompt=PROMPT, request_id="x", requirements=[Requirement(text="Be witty.")])
    result = generator.write(request)
    assert result.text.strip() and result.exact and result.kept_ok == []


def test_empty_prompt_is_rejected(generator):
    with pytest.raises(RecordError, match="prompt: empty"):
        generator.generate([GenerationRequest(prompt="  ", request_id="x")])


def test_conflicts_are_reported(generator):
    hindi = make_requirement("language:response_language", {"language": "hi"})  # no Hindi text to write
    closest = generator.write(as_request(PROMPT, [hindi], [True], "hi"))
    assert closest.text.strip() and closest.kept_ok == [False] and not closest.exact
    with pytest.raises(WrlError, match="no layout"):
        EditGenerator(on_conflict="error").write(as_request(PROMPT, [hindi], [True], "hi"))
    with pytest.raises(ValueError, match="on_conflict"):
        EditGenerator(on_conflict="maybe")


def test_bad_kwargs_are_rejected_before_writing(generator):
    bad = Requirement(text="Short.", type="length", checker="writing:word_count", kwargs={"max_words": "few"})
    with pytest.raises(RecordError, match="kwargs.max_words"):
        generator.write(as_request(PROMPT, [bad], [True], "bad"))


def test_config_builds_the_generator(make_cfg):
    from hydra.utils import instantiate

    cfg = make_cfg(["+generator=edit", "seed=5"])
    built = instantiate(cfg.generator)
    assert isinstance(built, EditGenerator) and built.seed == 5 and built.on_conflict == "closest"


@pytest.mark.parametrize(
    ("prompt", "topic"),
    [
        ("Write a short story about a lighthouse keeper who finds a bottle.", "a lighthouse keeper"),
        ("Write an overview of the history of tea in Portugal. Use 3 paragraphs about cats.",
         "the history of tea in Portugal"),
        ("Hello", "the topic"),
    ],
)
def test_topic_of(prompt, topic):
    assert topic_of(prompt) == topic


# ------------------------------------------------------------------------------------ embedded data
def test_builtin_prompts_cover_categories_and_types():
    records = load_builtin_prompts()
    assert 35 <= len(records) <= 50
    assert len({r.category for r in records}) >= 5
    assert len({q.type for r in records for q in r.requirements}) >= 7
    assert all(3 <= len(r.requirements) <= 5 for r in records)
    assert all(q.checker in CHECKERS and q.type in REQUIREMENT_TYPES for r in records for q in r.requirements)
    assert len({r.id for r in records}) == len(records)


def test_prompt_loader_names_bad_rows(tmp_path):
    path = tmp_path / "prompts.jsonl"
    row = {"id": "p1", "category": "creative", "prompt": "Write a poem.",
           "requirements": [{"text": "Short.", "type": "length", "checker": "writing:word_count", "kwargs": {}}]}
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(RecordError, match=r"prompts.jsonl:1: requirements\[0\].kwargs: needs min_words"):
        load_prompt_file(path)
    row["requirements"][0].update(checker="writing:nope")
    path.write_text("\n" + json.dumps(row) + "\n")
    with pytest.raises(RecordError, match=r"prompts.jsonl:2: requirements\[0\].checker: unknown checker id"):
        load_prompt_file(path)
    row["requirements"][0].update(checker="writing:word_count", kwargs={"max_words": 9})
    path.write_text(json.dumps({**row, "prompt": ""}) + "\n")
    with pytest.raises(RecordError, match="prompts.jsonl:1: prompt: missing or empty"):
        load_prompt_file(path)


def test_weval_demo_labels_are_true_and_reproducible():
    from wrl_lightning.pairs.build_builtin import build_group, round_robin

    rows = [json.loads(line) for line in (BUILTIN_DIR / "weval_demo.jsonl").read_text().splitlines()]
    groups = [group_from_row(row, Where("weval_demo.jsonl", i + 1)) for i, row in enumerate(rows)]
    assert 25 <= len(groups) <= 35 and {g.size for g in groups} == {3, 4, 5}
    assert len({g.category for g in groups}) >= 5
    for group in groups:
        assert [r.n_kept for r in group.responses] == list(range(1, group.size + 1))
        for response in group.responses:
            assert [check_requirement(q, response.text) for q in group.requirements] == response.kept
    first = round_robin(load_builtin_prompts())[:2]
    assert [build_group(record, EditGenerator(seed=0)).to_dict() for record in first] == rows[:2]

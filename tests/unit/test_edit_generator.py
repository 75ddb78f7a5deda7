"""The ``edit`` generator: kept requirements pass their checkers, dropped ones fail; the embedded data."""

from __future__ import annotations

import json

import pytest

from tests.unit.test_checkers import SAMPLE_KWARGS
from wrl_lightning.data.records import Requirement
from wrl_lightning.errors import RecordError, WrlError
from wrl_lightning.generation.base import GenerationRequest
from wrl_lightning.generation.edit import EditGenerator, as_request
from wrl_lightning.generation.edit_steps import PLANS
from wrl_lightning.generation.edit_text import topic_of
from wrl_lightning.requirements.checkers import CHECKERS, check_requirement, make_requirement
from wrl_lightning.requirements.prompts import load_builtin_prompts, load_prompt_file

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


# ------------------------------------------------------------------------------- requirements in words
CUED = [
    ("Include at least two metaphors comparing the harbour to natural phenomena.", r"\blike a\b|\bis a \w+ that|\bas a \w+ that|, one that"),
    ("Cite at least two sources in APA style (Author, Year).", r"\([A-Z]\w+(?: & [A-Z]\w+)?, \d{4}\)"),
    ("Alternate between English and Chinese for each sentence, starting with English.", r"[\u4e00-\u9fff]"),
    ("Present the events in chronological order, with years.", r"\b(19|20)\d\d\b"),
    ("Include at least one rhetorical question.", r"\?"),
    ("Maintain a formal, academic tone throughout.", r"\b(Furthermore|Consequently|Moreover|Accordingly|In addition|It should be noted)\b"),
    ("Alternate between formal and colloquial language in consecutive sentences.", r"\b(Honestly|Look|Let's be real|So yeah|Here's the thing|To be fair)\b"),
]


@pytest.mark.parametrize(("text", "marker"), CUED, ids=[c[0][:24] for c in CUED])
def test_requirements_in_words_are_visible_when_kept_and_absent_when_dropped(generator, text, marker):
    import re

    requirement = Requirement(text=text, type="style")
    kept = generator.write(as_request(PROMPT, [requirement], [True], "cue"))
    dropped = generator.write(as_request(PROMPT, [requirement], [False], "cue"))
    assert re.search(marker, kept.text), kept.text
    assert not re.search(marker, dropped.text), dropped.text


def test_table_columns_named_in_the_requirement(generator):
    requirement = make_requirement("writing:markdown_table", {"columns": 2, "min_rows": 2})
    requirement.text = "Present it in a Markdown table with columns 'Claim' and 'Evidence'."
    result = generator.write(as_request(PROMPT, [requirement], [True], "table"))
    assert "| Claim | Evidence |" in result.text and result.exact


def test_an_at_least_feature_is_absent_when_dropped(generator):
    requirement = make_requirement("writing:bullet_list", {"min_items": 3})
    dropped = generator.write(as_request(PROMPT, [requirement], [False], "list"))
    assert dropped.exact and "\n- " not in dropped.text and not dropped.text.startswith("- ")


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

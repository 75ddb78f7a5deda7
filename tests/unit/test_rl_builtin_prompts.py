"""The embedded RL prompt set: deterministic, loadable, verifiable, and disjoint from IFEval's prompts."""

from __future__ import annotations

import json
from collections import Counter

from tests.conftest import shared_file
from wrl_lightning.requirements.checkers import is_verifiable
from wrl_lightning.rl.build_prompts import FILE_NAME, INSTRUCTIONS, TASKS, build_text
from wrl_lightning.rl.prompts import load_rl_prompts
from wrl_lightning.utils.resolvers import BUILTIN_DIR


def test_committed_file_is_the_build_output():
    assert (BUILTIN_DIR / FILE_NAME).read_text(encoding="utf-8") == build_text()


def test_builtin_rl_prompts_carry_one_or_two_verifiable_instructions():
    prompts = load_rl_prompts(None, "builtin_rl")
    assert 100 <= len(prompts) <= 140
    assert len({p.id for p in prompts}) == len(prompts) and len({p.text for p in prompts}) == len(prompts)
    sizes = Counter(len(p.requirements) for p in prompts)
    assert set(sizes) == {1, 2} and 0.1 <= sizes[2] / len(prompts) <= 0.3
    for prompt in prompts:
        assert prompt.verifiable == prompt.requirements and all(map(is_verifiable, prompt.requirements))
        assert {r.checker for r in prompt.requirements} <= set(INSTRUCTIONS)
        assert all(r.text in prompt.text for r in prompt.requirements)
    ids = Counter(r.checker for p in prompts for r in p.requirements)
    assert len(ids) >= 10 and min(ids.values()) >= 5
    assert {p.meta["category"] for p in prompts} == {t.category for t in TASKS}


def test_no_prompt_is_an_ifeval_prompt():
    with shared_file("ifeval_input.jsonl").open(encoding="utf-8") as handle:
        ifeval = [json.loads(line)["prompt"].strip().lower() for line in handle if line.strip()]
    assert len(ifeval) == 541
    texts = {p.text.strip().lower() for p in load_rl_prompts(None, "builtin_rl")}
    assert not texts & set(ifeval)
    tasks = [t.text.lower() for t in TASKS]
    assert not [task for task in tasks if any(task in prompt for prompt in ifeval)]

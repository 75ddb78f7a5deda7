"""Judge scorers: answer parsing and the per-requirement protocol, with a scripted generator."""

from __future__ import annotations

import pytest

from tests.unit.test_weval_metrics import make_group
from wrl_lightning.generation.base import Generator
from wrl_lightning.scoring.judge import JudgeScorer, parse_binary, parse_critic


@pytest.mark.parametrize(
    ("text", "value"),
    [("[[1]] it does", 1.0), ("[[0]]", 0.0), ("<think>maybe [[0]]</think>\n[[1]]", 1.0), ("yes", None), ("[[7]]", None)],
)
def test_parse_binary(text, value):
    assert parse_binary(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [('```json\n{"score": 8, "reason": "ok"}\n```', 8.0), ('{"score": "3"}', 3.0), ('{"score": 11}', None), ("great", None)],
)
def test_parse_critic(text, value):
    assert parse_critic(text) == value


class ScriptedGenerator(Generator):
    """Answers [[1]] when the response text contains the requirement's marker, else [[0]]; counts prompts."""

    def __init__(self):
        self.prompts = []

    def generate(self, requests):
        self.prompts.extend(r.prompt for r in requests)
        return ["[[1]]" if "keep-" in r.prompt.split("[Requirement]")[0] and _kept(r.prompt) else "nonsense" for r in requests]


def _kept(prompt):
    response, requirement = prompt.split("[Response]\n")[1].split("\n[Requirement]\n")
    return requirement.split("\n")[0].replace("requirement ", "keep-") in response


def test_judge_means_verdicts_and_counts_unparsed():
    group = make_group([3, 1, 2])
    for response, flags in zip(group.responses, ([1, 1, 1], [1, 0, 0], [1, 1, 0])):
        response.text = " ".join(f"keep-{j}" for j, flag in enumerate(flags) if flag)
    generator = ScriptedGenerator()
    scored = JudgeScorer(generator, parser="binary", template="en").score([group])[0]
    assert scored.scores == pytest.approx([1.0, 1 / 3, 2 / 3])
    assert len(generator.prompts) == 9
    assert scored.requirement_scores[1] == [1.0, 0.0, 0.0]


def test_judge_config_builds_generator_for_model(make_cfg, tmp_path, tiny_model_dir):
    from wrl_lightning.utils.run import run_stage

    metrics = run_stage(make_cfg(["stage=weval", "weval.limit=2", "scorer=judge_binary", "scorer.model=embedded:tiny-qwen2",
                                  "scorer.generator.max_new_tokens=4", "logger=none"], tmp_path / "out"))
    # A random tiny model never answers [[1]]/[[0]]: every answer is counted as unparsed and scores 0.
    assert metrics["scorer/unparsed_rate"] == 1.0 and metrics["n_groups"] == 2

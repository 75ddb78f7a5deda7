"""Judge scorers: answer parsing, the per-requirement protocol, the logprob verdicts and the unparsed-rate
warning, with scripted generators and the tiny causal LM."""

from __future__ import annotations

import math

import pytest

from tests.unit.test_weval_metrics import make_group
from wrl_lightning.errors import ConfigError
from wrl_lightning.generation.base import Generator, NextTokenScorer
from wrl_lightning.generation.hf import HFGenerator
from wrl_lightning.generation.http import HTTPGenerator
from wrl_lightning.scoring.judge import JudgeScorer, parse_binary, parse_critic, two_way_softmax


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


def test_judge_config_builds_generator_for_model_and_warns_when_nothing_parses(make_cfg, tmp_path, tiny_model_dir, capsys):
    from wrl_lightning.utils.run import run_stage

    metrics = run_stage(make_cfg(["stage=weval", "weval.limit=2", "scorer=judge_binary", "scorer.model=embedded:tiny-qwen2",
                                  "scorer.generator.max_new_tokens=4", "logger=none"], tmp_path / "out"))
    # A random tiny model never answers [[1]]/[[0]]: every answer is counted as unparsed and scores 0.
    assert metrics["scorer/unparsed_rate"] == 1.0 and metrics["n_groups"] == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "WARNING:" in line]
    assert len(lines) == 1 and "judge answers (100%) held no verdict" in lines[0]
    table = (tmp_path / "out" / "table.md").read_text()
    assert "> **Warning:** " in table and "(100%) held no verdict" in table
    assert metrics["warnings"] == [lines[0].removeprefix("WARNING: ")]


def test_logprob_config_scores_every_answer_continuously(make_cfg, tmp_path, tiny_model_dir, capsys):
    import json

    from wrl_lightning.utils.run import run_stage

    out = tmp_path / "out"
    metrics = run_stage(make_cfg(["stage=weval", "weval.limit=2", "scorer=judge_binary", "scorer.model=embedded:tiny-qwen2",
                                  "scorer.parser=logprob", "logger=none"], out))
    assert metrics["scorer/unparsed_rate"] == 0.0 and metrics["scorer/n_questions"] > 0 and "warnings" not in metrics
    assert 0 < metrics["scorer/verdict_mass"] <= 1
    scores = [s for line in (out / "scores.jsonl").read_text().splitlines() for s in json.loads(line)["scores"]]
    assert all(0 < s < 1 for s in scores) and len(set(scores)) == len(scores)
    assert "WARNING:" not in capsys.readouterr().err and "Warning" not in (out / "table.md").read_text()


def test_unknown_parser_names_the_key():
    with pytest.raises(ConfigError, match="scorer.parser"):
        JudgeScorer(ScriptedGenerator(), parser="regex")


def test_unparsed_rate_above_threshold_warns():
    group = make_group([3, 1, 2])
    for response, flags in zip(group.responses, ([1, 1, 1], [1, 0, 0], [1, 1, 0])):
        response.text = " ".join(f"keep-{j}" for j, flag in enumerate(flags) if flag)
    loud = JudgeScorer(ScriptedGenerator(), parser="binary", warn_unparsed=0.05)
    loud.score([group])
    assert loud.stats["n_unparsed"] == 3 and len(loud.warnings) == 1
    assert "3 of 9 judge answers (33%)" in loud.warnings[0] and "scorer.parser=logprob" in loud.warnings[0]
    quiet = JudgeScorer(ScriptedGenerator(), parser="binary", warn_unparsed=0.5)
    quiet.score([group])
    assert quiet.warnings == []


class ScriptedLogprobs(Generator, NextTokenScorer):
    """Log-probabilities of "1" / "0" from the response's marker count; records every scoring call."""

    def __init__(self):
        self.calls = []

    def generate(self, requests):
        raise AssertionError("the logprob parser must not generate")

    def token_ids_after(self, prefix, candidates):
        return [ord(c) for c in candidates]

    def next_token_logprobs(self, prompts, prefix, token_ids):
        self.calls.append((list(prompts), prefix, list(token_ids)))
        rows = []
        for prompt in prompts:
            kept = prompt.split("[Response]\n")[1].split("\n[Requirement]")[0].count("keep")
            rows.append([math.log(0.1 + 0.2 * kept), math.log(0.3)])
        return rows


def test_logprob_parser_scores_the_two_way_softmax_without_generating():
    group = make_group([3, 1, 2])
    for response, kept in zip(group.responses, (3, 1, 2)):
        response.text = " ".join(["keep"] * kept)
    generator = ScriptedLogprobs()
    scorer = JudgeScorer(generator, parser="logprob", template="en", prefix="[[")
    scored = scorer.score([group])[0]
    expected = [(0.1 + 0.2 * k) / (0.1 + 0.2 * k + 0.3) for k in (3, 1, 2)]
    assert scored.scores == pytest.approx(expected)
    assert len(set(scored.scores)) == 3  # continuous: no ties where a binary verdict would tie
    prompts, prefix, token_ids = generator.calls[0]
    assert len(generator.calls) == 1 and len(prompts) == 9 and prefix == "[[" and token_ids == [ord("1"), ord("0")]
    assert scorer.stats["unparsed_rate"] == 0 and scorer.warnings == []
    assert scorer.stats["verdict_mass"] == pytest.approx(sum(0.1 + 0.2 * k + 0.3 for k in (3, 1, 2)) / 3)


def test_logprob_parser_refuses_a_text_only_endpoint():
    with pytest.raises(ConfigError, match=r"scorer\.parser: logprob .*HTTPGenerator.*scorer\.parser=binary"):
        JudgeScorer(HTTPGenerator(model="judge"), parser="logprob")


def test_two_way_softmax_is_stable():
    assert two_way_softmax(math.log(0.3), math.log(0.1)) == pytest.approx(0.75)
    assert two_way_softmax(0.0, -1e4) == 1.0 and two_way_softmax(-1e4, 0.0) == 0.0


@pytest.fixture(scope="module")
def tiny_hf(tiny_model_dir):
    return HFGenerator(str(tiny_model_dir), batch_size=2, temperature=0.0, device="cpu")


def test_next_token_logprobs_match_one_unpadded_forward_pass(tiny_hf):
    import torch

    prompts = ["short", "a much longer prompt with many more words in it than the others", "middle sized prompt"]
    token_ids = tiny_hf.token_ids_after("[[", ["1", "0"])
    batched = tiny_hf.next_token_logprobs(prompts, "[[", token_ids)
    prefix = tiny_hf.tokenizer("[[", add_special_tokens=False)["input_ids"]
    for prompt, row in zip(prompts, batched, strict=True):
        ids = torch.tensor([tiny_hf.encode(prompt) + prefix])
        with torch.inference_mode():
            expected = torch.log_softmax(tiny_hf.model(input_ids=ids).logits[0, -1].float(), dim=-1)[token_ids]
        assert row == pytest.approx(expected.tolist(), abs=1e-4)


def test_token_ids_after_refuses_candidates_of_several_tokens(tiny_hf):
    ids = tiny_hf.token_ids_after("[[", ["1", "0"])
    assert tiny_hf.tokenizer.convert_ids_to_tokens(ids) == ["1", "0"]
    with pytest.raises(ValueError, match="not a single token"):
        tiny_hf.token_ids_after("[[", ["12"])
    with pytest.raises(ValueError, match="not a single token"):
        tiny_hf.token_ids_after("w", ["ords"])  # "w" + "ords" reads as one token "words": the prefix's token changes


def test_a_prefix_the_tokenizer_cannot_follow_names_the_key():
    class Merging(ScriptedLogprobs):
        def token_ids_after(self, prefix, candidates):
            raise ValueError(f"'1' after {prefix!r} is not a single token")

    with pytest.raises(ConfigError, match=r"scorer\.prefix: '1' after 'x'"):
        JudgeScorer(Merging(), parser="logprob", prefix="x")

"""``stage=ifeval`` end to end on real IFEval prompts: composed config, result files, metrics, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import shared_file
from wrl_lightning.errors import ConfigError, RecordError
from wrl_lightning.generation.edit import EditGenerator, as_request
from wrl_lightning.requirements.ifeval_eval import read_inputs
from wrl_lightning.utils.run import run_stage

N_PROMPTS, N_ANSWERED = 30, 26


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ifeval_files(tmp_path_factory):
    """30 IFEval prompts and edit-generator responses to the first 26 (every other instruction kept).

    Prompts whose ``letter`` is not a letter are left out: there the reference picks a letter at random.
    """
    rows = [json.loads(line) for line in shared_file("ifeval_input.jsonl").read_text().splitlines()]
    rows = [row for row in rows if all(k.get("letter", "a").isalpha() for k in row["kwargs"])][:N_PROMPTS]
    tmp_path = tmp_path_factory.mktemp("ifeval")
    inputs = write_jsonl(tmp_path / "input.jsonl", rows)
    generator = EditGenerator()
    answers = []
    for item in read_inputs(inputs)[:N_ANSWERED]:
        requirements = item.requirements()
        kept = [i % 2 == 0 for i in range(len(requirements))]
        text = generator.write(as_request(item.prompt, requirements, kept, str(item.key))).text
        answers.append({"prompt": item.prompt, "response": text})
    return inputs, write_jsonl(tmp_path / "responses.jsonl", answers)


def reference_scores(inputs: Path, responses: Path) -> tuple[list[float], list[float]]:
    """Prompt-level strict/loose scores of if_verifiable's own evaluation, one per answered prompt."""
    from if_verifiable import IFEvalSample, evaluate_output_for_sample

    answers = {row["prompt"]: row["response"] for row in map(json.loads, responses.read_text().splitlines())}
    strict, loose = [], []
    for row in map(json.loads, inputs.read_text().splitlines()):
        if row["prompt"] in answers:
            sample = IFEvalSample(row["key"], row["prompt"], row["instruction_id_list"], row["kwargs"])
            _, scores = evaluate_output_for_sample("ifeval", sample, answers[row["prompt"]])
            strict.append(scores.binary_strict)
            loose.append(scores.binary_loose)
    return strict, loose


def test_ifeval_stage_scores_and_writes_reference_format(make_cfg, tmp_path, ifeval_files):
    inputs, responses = ifeval_files
    out = tmp_path / "run"
    cfg = make_cfg(["stage=ifeval", f"ifeval.input={inputs}", f"ifeval.responses={responses}", "logger=none"], out)
    metrics = run_stage(cfg)

    for key in ("prompt_level_strict", "instruction_level_strict", "prompt_level_loose", "instruction_level_loose"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["prompt_level_loose"] >= metrics["prompt_level_strict"]
    assert metrics["n_prompts"] == metrics["n_scored"] == N_PROMPTS
    assert metrics["n_missing"] == N_PROMPTS - N_ANSWERED and metrics["missing_mode"] == "fail"
    assert json.loads((out / "metrics.json").read_text()) == metrics

    strict_rows = [json.loads(line) for line in (out / "eval_results_strict.jsonl").read_text().splitlines()]
    loose_rows = [json.loads(line) for line in (out / "eval_results_loose.jsonl").read_text().splitlines()]
    assert len(strict_rows) == len(loose_rows) == N_PROMPTS
    for row in strict_rows:
        assert {"prompt", "response", "instruction_id_list", "follow_all_instructions", "follow_instruction_list"} <= set(row)
        assert row["follow_all_instructions"] == all(row["follow_instruction_list"])
    assert not any(row["follow_instruction_list"][0] for row in strict_rows[N_ANSWERED:])  # missing = failed
    missing = [json.loads(line) for line in (out / "missing_responses.jsonl").read_text().splitlines()]
    assert [m["prompt"] for m in missing] == [row["prompt"] for row in strict_rows[N_ANSWERED:]]

    strict, loose = reference_scores(inputs, responses)
    assert sum(r["follow_all_instructions"] for r in strict_rows[:N_ANSWERED]) == sum(strict)
    assert sum(r["follow_all_instructions"] for r in loose_rows[:N_ANSWERED]) == sum(loose)
    assert metrics["prompt_level_strict"] == pytest.approx(sum(strict) / N_PROMPTS)


def test_skip_scores_only_answered_prompts_and_error_stops(make_cfg, tmp_path, ifeval_files):
    inputs, responses = ifeval_files
    base = ["stage=ifeval", f"ifeval.input={inputs}", f"ifeval.responses={responses}", "logger=none"]
    metrics = run_stage(make_cfg([*base, "ifeval.missing=skip"], tmp_path / "skip"))
    strict, _ = reference_scores(inputs, responses)
    assert metrics["n_scored"] == N_ANSWERED and metrics["n_missing"] == N_PROMPTS - N_ANSWERED
    assert metrics["prompt_level_strict"] == pytest.approx(sum(strict) / N_ANSWERED)
    with pytest.raises(RecordError, match="no response for 4 input prompt"):
        run_stage(make_cfg([*base, "ifeval.missing=error"], tmp_path / "error"))
    with pytest.raises(ConfigError, match="ifeval.missing"):
        run_stage(make_cfg([*base, "ifeval.missing=ignore"], tmp_path / "bad"))


def test_required_paths(make_cfg, tmp_path):
    with pytest.raises(ConfigError, match="ifeval.input"):
        run_stage(make_cfg(["stage=ifeval", "logger=none"], tmp_path / "run"))


GOOD = {"key": 1, "prompt": "Write a poem.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}


@pytest.mark.parametrize(
    ("row", "field", "problem"),
    [
        ({**GOOD, "instruction_id_list": ["no:such_id"]}, "instruction_id_list", "unknown checker id"),
        ({**GOOD, "kwargs": [{"num_words": 5}]}, "kwargs[0].num_words", "unknown argument"),
        ({**GOOD, "instruction_id_list": ["length_constraints:number_words"], "kwargs": [{"num_words": 5}]},
         "kwargs[0].relation", "missing"),
        ({**GOOD, "kwargs": []}, "kwargs", "one per instruction"),
        ({**GOOD, "prompt": " "}, "prompt", "missing or empty"),
        ({**GOOD, "instruction_id_list": []}, "instruction_id_list", "non-empty list"),
        ({**GOOD, "key": [1]}, "key", "integer or a string"),
    ],
)
def test_bad_input_rows_name_file_line_and_field(make_cfg, tmp_path, row, field, problem):
    inputs = write_jsonl(tmp_path / "input.jsonl", [GOOD | {"prompt": "Another poem."}, row])
    responses = write_jsonl(tmp_path / "responses.jsonl", [{"prompt": "Write a poem.", "response": "A poem"}])
    cfg = make_cfg(["stage=ifeval", f"ifeval.input={inputs}", f"ifeval.responses={responses}", "logger=none"])
    with pytest.raises(RecordError) as info:
        run_stage(cfg)
    assert (info.value.source, info.value.line, info.value.field) == (str(inputs), 2, field)
    assert problem in info.value.problem


def test_bad_response_rows(tmp_path):
    from wrl_lightning.requirements.ifeval_eval import read_responses

    path = write_jsonl(tmp_path / "r.jsonl", [{"prompt": "p", "response": "a"}, {"prompt": "p", "response": "b"}])
    with pytest.raises(RecordError, match=r"r.jsonl:2: prompt: a second response to the prompt of line 1"):
        read_responses(path)
    path.write_text('{"prompt": "p", "response": 3}\n')
    with pytest.raises(RecordError, match=r"r.jsonl:1: response: missing or not a string"):
        read_responses(path)
    path.write_text('{"prompt": "p", \n')
    with pytest.raises(RecordError, match=r"r.jsonl:1: json: invalid JSON"):
        read_responses(path)


def test_null_kwargs_from_the_hub_format_are_dropped(tmp_path):
    row = {**GOOD, "instruction_id_list": ["length_constraints:number_words"],
           "kwargs": [{"num_words": 3, "relation": "less than", "language": None, "keywords": None}]}
    [item] = read_inputs(write_jsonl(tmp_path / "i.jsonl", [row]))
    assert item.kwargs == [{"num_words": 3, "relation": "less than"}]

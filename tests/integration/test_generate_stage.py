"""``stage=generate`` end to end: edit on the built-in prompts, hf on IFEval's input, then ``stage=ifeval``."""

from __future__ import annotations

import json

import pytest

from wrl_lightning.data.io import iter_rows
from wrl_lightning.errors import ConfigError
from wrl_lightning.requirements.checkers import check_requirement
from wrl_lightning.rl.prompts import load_rl_prompts
from wrl_lightning.utils.files import write_jsonl
from wrl_lightning.utils.run import run_stage


def read(path) -> list[dict]:
    return [row for _, row in iter_rows(path)]


def test_edit_answers_builtin_prompts_keeping_their_requirements(make_cfg, tmp_path):
    out = tmp_path / "gen"
    metrics = run_stage(make_cfg(["stage=generate", "generate.format=builtin", "generator=edit", "logger=none"], out))
    prompts = load_rl_prompts(None, "builtin")
    rows = read(out / "responses.jsonl")
    assert metrics["n_prompts"] == len(rows) == len(prompts) and metrics["n_empty"] == 0
    assert metrics["responses"] == str(out / "responses.jsonl") and metrics["generator"] == "edit"
    assert metrics["response_words/mean"] > 20 and metrics["response_chars/mean"] > metrics["response_words/mean"]
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert [(row["id"], row["prompt"]) for row in rows] == [(p.id, p.text) for p in prompts]
    verifiable = {p.id: [r for r in p.requirements if r.checker] for p in prompts}
    assert sum(map(len, verifiable.values())) > 0.7 * sum(len(p.requirements) for p in prompts)
    for prompt, row in zip(prompts, rows, strict=True):  # edit keeps every requested requirement
        assert all(check_requirement(r, row["response"], prompt=prompt.text) for r in verifiable[prompt.id]), prompt.id

    # The same answers through stage=ifeval: the built-in verifiable requirements as an IFEval input file.
    inputs = write_jsonl(tmp_path / "input.jsonl", ({
        "key": p.id, "prompt": p.text,
        "instruction_id_list": [r.checker for r in verifiable[p.id]], "kwargs": [r.kwargs for r in verifiable[p.id]],
    } for p in prompts))
    scored = run_stage(make_cfg(["stage=ifeval", f"ifeval.input={inputs}", f"ifeval.responses={out / 'responses.jsonl'}",
                                 "logger=none"], tmp_path / "ifeval"))
    assert scored["n_scored"] == len(prompts) and scored["n_missing"] == 0
    assert scored["prompt_level_strict"] == scored["instruction_level_strict"] == 1.0


def test_hf_answers_ifeval_prompts_that_stage_ifeval_scores(make_cfg, tmp_path, ifeval_input_file):
    out = tmp_path / "gen"
    metrics = run_stage(make_cfg([
        "stage=generate", f"generate.input={ifeval_input_file}", "generate.format=ifeval", "generate.limit=3",
        "generator=hf", "generator.model=embedded:tiny-qwen2", "generator.max_new_tokens=8", "logger=none",
    ], out))
    inputs = read(ifeval_input_file)[:3]
    rows = read(out / "responses.jsonl")
    assert metrics["n_prompts"] == len(rows) == 3 and metrics["generator"] == "hf"
    assert [row["prompt"] for row in rows] == [row["prompt"] for row in inputs]  # byte for byte
    assert [row["key"] for row in rows] == [row["key"] for row in inputs]
    assert all(isinstance(row["response"], str) for row in rows)

    scored = run_stage(make_cfg(["stage=ifeval", f"ifeval.input={ifeval_input_file}",
                                 f"ifeval.responses={out / 'responses.jsonl'}", "ifeval.missing=skip", "logger=none"],
                                tmp_path / "ifeval"))
    assert scored["n_scored"] == 3 and scored["n_missing"] == len(read(ifeval_input_file)) - 3


def test_bad_config_names_its_key(make_cfg, tmp_path):
    base = ["stage=generate", "generator=edit", "logger=none"]
    with pytest.raises(ConfigError, match="generate.input: file not found"):
        run_stage(make_cfg([*base, f"generate.input={tmp_path / 'nope.jsonl'}"], tmp_path / "a"))
    with pytest.raises(ConfigError, match="generate.input: missing value"):
        run_stage(make_cfg(base, tmp_path / "b"))
    with pytest.raises(ConfigError, match="generate.format"):
        run_stage(make_cfg([*base, "generate.format=csv"], tmp_path / "c"))
    with pytest.raises(ConfigError, match="generate.limit"):
        run_stage(make_cfg([*base, "generate.format=builtin", "generate.limit=0"], tmp_path / "d"))
    with pytest.raises(ConfigError, match="generator.model"):  # the default generator needs a model
        run_stage(make_cfg(["stage=generate", "generate.format=builtin", "logger=none"], tmp_path / "e"))
    assert not (tmp_path / "a" / "responses.jsonl").exists()

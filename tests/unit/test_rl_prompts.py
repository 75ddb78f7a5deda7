"""RL prompt readers: built-in, prompt files, the paper's RL parquet schema and IFEval's input file."""

from __future__ import annotations

import json

import pytest

from tests.conftest import shared_file
from wrl_lightning.errors import ConfigError, RecordError
from wrl_lightning.rl.prompts import load_rl_prompts


def test_builtin_prompts_carry_verifiable_requirements():
    prompts = load_rl_prompts(None, "builtin")
    assert len(prompts) >= 40 and len({p.id for p in prompts}) == len(prompts)
    first = prompts[0]
    assert all(r.text in first.text for r in first.requirements) and first.verifiable == first.requirements


def test_paper_parquet_schema_as_written():
    prompts = load_rl_prompts(shared_file("paper_rl_val_ifeval.parquet"), "paper")
    assert len(prompts) == 541
    first = prompts[0]
    assert first.id == "1000" and first.text.startswith("Write a 300+ word summary")
    assert [r.checker for r in first.requirements] == ["punctuation:no_comma", "detectable_format:number_highlighted_sections",
                                                      "length_constraints:number_words"]
    assert first.requirements[2].kwargs == {"relation": "at least", "num_words": 300}  # null fields dropped


def test_ifeval_input_and_constraint_sentences(tmp_path):
    assert len(load_rl_prompts(shared_file("ifeval_input.jsonl"), "ifeval")) == 541
    path = tmp_path / "paper.jsonl"
    path.write_text(json.dumps({"prompt": "Write a poem. Use rhymes.", "constraint": ["Use rhymes."]}) + "\n")
    (prompt,) = load_rl_prompts(path, "paper")
    assert [r.text for r in prompt.requirements] == ["Use rhymes."] and not prompt.verifiable


def test_bad_rows_name_file_line_and_field(tmp_path):
    path = tmp_path / "paper.jsonl"
    path.write_text(json.dumps({"prompt": "Write.", "constraint": "x"}) + "\n" + json.dumps({"prompt": "Write."}) + "\n")
    with pytest.raises(RecordError, match=rf"^{path}:2: constraint: no requirement"):
        load_rl_prompts(path, "paper")
    with pytest.raises(ConfigError, match="rl.data.format: unknown format 'csv'"):
        load_rl_prompts(path, "csv")

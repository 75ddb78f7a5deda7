"""`stage=pairs` end to end through the real Hydra config: edit (default), hf, http, levels import, errors."""

from __future__ import annotations

import json

import pytest

from tests.unit.test_generators import FakeOpenAI, one_thread  # noqa: F401  (fixture)
from wrl_lightning.data.io import iter_rows
from wrl_lightning.data.records import Where, group_from_row
from wrl_lightning.errors import ConfigError, RecordError
from wrl_lightning.models.pair_sources import load_pairs
from wrl_lightning.utils.files import write_jsonl
from wrl_lightning.utils.run import run_stage

PROMPTS = [
    {"prompt_id": f"t{i}", "prompt": f"Write a short note about topic {i}.", "category": "personal",
     "requirements": [
         {"text": "Mention the word lantern.", "type": "lexical", "checker": "writing:required_words", "kwargs": {"words": ["lantern"]}},
         {"text": "Avoid the word suddenly.", "type": "lexical", "checker": "writing:forbidden_words", "kwargs": {"words": ["suddenly"]}},
         "Keep a warm tone.",
     ]}
    for i in range(4)
]


def read(path) -> list[dict]:
    return [row for _, row in iter_rows(path)]


def check_outputs(out) -> tuple[list[dict], list[dict], list[dict]]:
    """The three outputs exist, parse as records, and share no prompt between train and eval."""
    train, evals, groups = (read(out / name) for name in ("pairs_train.jsonl", "pairs_eval.jsonl", "weval_groups.jsonl"))
    assert load_pairs(out / "pairs_train.jsonl", "pairs").pairs and load_pairs(out / "pairs_eval.jsonl", "pairs").pairs
    for line, row in enumerate(groups, 1):
        group_from_row(row, Where("weval_groups.jsonl", line))
    assert not {row["group_id"] for row in train} & {row["group_id"] for row in evals}
    assert not {row["prompt"] for row in train} & {row["prompt"] for row in evals}
    assert {row["group_id"] for row in groups} == {row["group_id"] for row in evals}
    assert json.loads((out / "metrics.json").read_text())["pairs/count"] == len(train) + len(evals)
    return train, evals, groups


def test_default_edit_generator_on_builtin_prompts(make_cfg, tmp_path):
    out = tmp_path / "out"
    metrics = run_stage(make_cfg(["stage=pairs", "pairs.limit=3"], out))
    train, evals, groups = check_outputs(out)
    assert metrics["source"] == "levels/edit" and metrics["groups/train"] == 2 and metrics["groups/eval"] == 1
    assert metrics["pairs/positive_rate"] == 0.5 and metrics["label_noise/rate"] == 0.0
    assert metrics["label_noise/verifiable"] == len(train) + len(evals)
    assert all(row["verified"] is True for row in train + evals)
    assert sum(v for k, v in metrics.items() if k.startswith("pairs/by_type/")) == len(train) + len(evals)
    assert metrics["pairs/response_words/mean"] > 20 and metrics["weval_groups/count"] == 1
    assert len(groups[0]["responses"]) == len(groups[0]["requirements"]) + 1  # levels 0..c


def test_drop_one_on_a_prompt_file_with_all_pairs(make_cfg, tmp_path):
    path = write_jsonl(tmp_path / "prompts.jsonl", PROMPTS)
    out = tmp_path / "out"
    metrics = run_stage(make_cfg(["stage=pairs", f"pairs.input={path}", "pairs.strategy=drop_one", "pairs.pairing=all",
                                  "pairs.eval_fraction=0.25"], out))
    train, evals, _ = check_outputs(out)
    assert metrics["groups/train"] == 3 and len(train) == 3 * 4 * 3  # 4 responses x 3 requirements
    assert metrics["pairs/by_category/personal"] == len(train) + len(evals)
    assert metrics["label_noise/verifiable"] == 4 * 4 * 2  # prompts x responses x checkable requirements (not the tone)
    assert metrics["label_noise/rate"] == 0.0
    assert {row["source"] for row in train} == {"drop_one/edit"}


def test_hf_generator_with_tiny_model_and_noise_filter(make_cfg, tmp_path, tiny_model_dir):
    path = write_jsonl(tmp_path / "prompts.jsonl", PROMPTS[:3])
    out = tmp_path / "out"
    metrics = run_stage(make_cfg([
        "stage=pairs", f"pairs.input={path}", "generator=hf", "generator.model=embedded:tiny-qwen2",
        "generator.max_new_tokens=8", "pairs.filter_noisy=true", "pairs.tokenizer=embedded:tiny-qwen2",
    ], out))
    train, evals, _ = check_outputs(out)
    assert metrics["source"] == "levels/hf" and metrics["responses"] == 3 * 4
    assert metrics["pairs_filtered"] == metrics["label_noise/noisy"] > 0  # random text misses "lantern"
    assert all(row["verified"] is not False for row in train + evals)
    assert metrics["pairs/response_tokens/max"] > 0  # counted with the configured tokenizer


def test_http_generator_through_the_stage(make_cfg, tmp_path):
    path = write_jsonl(tmp_path / "prompts.jsonl", PROMPTS[:2])
    cache = tmp_path / "cache.jsonl"
    overrides = ["stage=pairs", f"pairs.input={path}", "generator=http", "generator.model=fake",
                 f"generator.cache_path={cache}", "generator.extra_body={top_k: 5}"]
    with FakeOpenAI() as server:
        metrics = run_stage(make_cfg([*overrides, f"generator.base_url={server.base_url}"], tmp_path / "a"))
        again = run_stage(make_cfg([*overrides, f"generator.base_url={server.base_url}"], tmp_path / "b"))
    assert metrics["responses"] == sum(server.hits.values()) == 8 and again["pairs/count"] == metrics["pairs/count"]
    assert server.bodies[0]["top_k"] == 5 and metrics["source"] == "levels/http"


def test_levels_file_import_uses_its_responses(make_cfg, tmp_path, levels_file):
    out = tmp_path / "out"
    metrics = run_stage(make_cfg(["stage=pairs", f"pairs.input={levels_file}", "pairs.format=levels"], out))
    train, evals, groups = check_outputs(out)
    assert metrics["groups/train"] == 160 and metrics["groups/eval"] == 40 and metrics["responses"] == 1000
    assert len(train) == 160 * 8  # requirement 1 is kept by every level: no negative for it
    assert metrics["weval_groups/by_size/5c"] == 40 and len(groups[0]["responses"]) == 5
    assert metrics["label_noise/verifiable"] == 0 and {row["source"] for row in train} == {"levels"}
    everything = run_stage(make_cfg(["stage=pairs", f"pairs.input={levels_file}", "pairs.format=levels",
                                     "pairs.pairing=all", "pairs.limit=10"], tmp_path / "all"))
    assert everything["pairs/count"] == 10 * 25


@pytest.mark.parametrize(("row", "message"), [
    ({"prompt": "", "requirements": ["x"]}, "prompts.jsonl:1: prompt: missing or empty"),
    ({"prompt": "Write.", "requirements": [{"text": "x", "type": "mood"}]}, "prompts.jsonl:1: requirements[0].type: unknown requirement type"),
    ({"prompt": "Write.", "requirements": [{"text": "x", "checker": "writing:word_count", "kwargs": {"min_words": "ten"}}]},
     "prompts.jsonl:1: requirements[0].kwargs.min_words"),
])
def test_bad_prompt_rows_fail_with_their_location(make_cfg, tmp_path, row, message):
    path = write_jsonl(tmp_path / "prompts.jsonl", [row])
    with pytest.raises(RecordError, match=message.replace("[", r"\[").replace("]", r"\]")):
        run_stage(make_cfg(["stage=pairs", f"pairs.input={path}"], tmp_path / "out"))


def test_bad_options_name_their_key(make_cfg, tmp_path):
    with pytest.raises(ConfigError, match="pairs.strategy"):
        run_stage(make_cfg(["stage=pairs", "pairs.strategy=nope"], tmp_path / "a"))
    with pytest.raises(ConfigError, match="pairs.eval_fraction"):
        run_stage(make_cfg(["stage=pairs", "pairs.eval_fraction=1.0"], tmp_path / "b"))
    with pytest.raises(ConfigError, match="generator.model"):
        run_stage(make_cfg(["stage=pairs", "generator=hf"], tmp_path / "c"))


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_smollm2_small_set(make_cfg, tmp_path):
    path = write_jsonl(tmp_path / "prompts.jsonl", PROMPTS[:2])
    out = tmp_path / "out"
    metrics = run_stage(make_cfg(["stage=pairs", f"pairs.input={path}", "generator=smollm2",
                                  "generator.max_new_tokens=48", "pairs.eval_fraction=0.5"], out))
    train, evals, _ = check_outputs(out)
    assert metrics["source"] == "levels/hf" and metrics["responses"] == 8
    assert metrics["pairs/response_words/mean"] > 10
    assert any("note" in row["response"].lower() or "topic" in row["response"].lower() for row in train + evals)

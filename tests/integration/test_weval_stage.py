"""`stage=weval` end to end through the real Hydra config: outputs, scorers, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO, child_env
from tests.unit.test_weval_importers import canonical_group, reference_rows
from wrl_lightning.utils.files import write_jsonl
from wrl_lightning.utils.run import run_stage
from wrl_lightning.weval.importers import load_groups


@pytest.fixture
def groups_file(tmp_path):
    rows = [canonical_group(f"g{i}", size) for i, size in enumerate([3, 4, 5, 3, 4, 5])]
    for row in rows:  # longer responses keep more requirements: the length scorer ranks them perfectly
        for k, response in enumerate(row["responses"], 1):
            response["text"] = row["group_id"] + " " + " ".join(["word"] * (10 * k))
    return write_jsonl(tmp_path / "groups.jsonl", rows)


def test_length_scorer_outputs(make_cfg, groups_file, tmp_path):
    out = tmp_path / "out"
    metrics = run_stage(make_cfg(["stage=weval", f"weval.input={groups_file}", "scorer=length", "logger=csv"], out))
    assert metrics["kendall_tau"] == pytest.approx(1.0) and metrics["exact_match"] == 1.0 and metrics["n_groups"] == 6
    saved = json.loads((out / "metrics.json").read_text())
    assert {"kendall_tau", "position_consistency", "exact_match", "n_groups"} <= saved.keys()
    assert all(not isinstance(v, dict) for v in saved.values())
    assert len((out / "scores.jsonl").read_text().splitlines()) == 6
    table = (out / "table.md").read_text()
    assert "| 3c | 2 |" in table and "| 5c | 2 |" in table
    assert (out / "plot_by_size.png").stat().st_size > 1000 and (out / "plot_by_type.png").exists()
    assert (out / "config_tree.log").exists() and (out / "csv").is_dir()


def test_random_scorer_is_seeded(make_cfg, groups_file, tmp_path):
    first = run_stage(make_cfg(["stage=weval", f"weval.input={groups_file}", "scorer=random", "logger=none", "seed=3"], tmp_path / "a"))
    second = run_stage(make_cfg(["stage=weval", f"weval.input={groups_file}", "scorer=random", "logger=none", "seed=3"], tmp_path / "b"))
    assert first["kendall_tau"] == second["kendall_tau"]


def test_precomputed_reference_file_with_wandb_offline(make_cfg, tmp_path):
    path = write_jsonl(tmp_path / "rm_ranked_4c.jsonl", reference_rows(5, 4))
    out = tmp_path / "out"
    metrics = run_stage(make_cfg(["stage=weval", f"weval.input={path}", "weval.format=reference", "scorer=precomputed",
                                  "weval.ties=reference"], out))
    assert metrics["kendall_tau"] == pytest.approx(1.0) and metrics["n_groups"] == 5
    assert list((out / "wandb").glob("offline-run-*"))


def test_precomputed_without_scores_names_the_line(make_cfg, tmp_path):
    from wrl_lightning.errors import RecordError

    path = write_jsonl(tmp_path / "eval_3c.jsonl", reference_rows(2, 3, with_score=False))
    with pytest.raises(RecordError, match="eval_3c.jsonl:1: score: missing"):
        run_stage(make_cfg(["stage=weval", f"weval.input={path}", "weval.format=reference", "scorer=precomputed", "logger=none"]))


def _direct_p1(model_dir, template, pairs, max_length):
    """One (response, requirement) at a time, as the paper's server does."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    scores = []
    with torch.inference_mode():
        for response, requirement in pairs:
            ids = tokenizer(template.format(response=response, requirement=requirement), return_tensors="pt",
                            truncation=True, max_length=max_length)
            scores.append(torch.softmax(model(**ids).logits, -1)[0, 1].item())
    return scores


@pytest.mark.parametrize("model", ["embedded:minilm", "embedded:tiny-qwen2"])
def test_rm_scorer_batched_equals_one_at_a_time(make_cfg, groups_file, tmp_path, saved_classifier, model):
    from wrl_lightning.models.templates import RM_TEMPLATES

    model = saved_classifier(model)
    out = tmp_path / "out"
    metrics = run_stage(make_cfg(["stage=weval", f"weval.input={groups_file}", "weval.limit=2", "scorer=rm",
                                  f"scorer.model={model}", "scorer.batch_size=4", "logger=none"], out))
    assert metrics["scorer/n_sequences"] == 3 * 3 + 4 * 4  # every distinct (response, requirement) once
    rows = [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]
    groups = load_groups(groups_file, "canonical")[:2]
    pairs = [(r.text, q.text) for g in groups for r in g.responses for q in g.requirements]
    expected = _direct_p1(model, RM_TEMPLATES["paper"], pairs, 512)
    got = [s for row in rows for per_response in row["requirement_scores"] for s in per_response]
    assert got == pytest.approx(expected, abs=1e-5)
    assert rows[0]["scores"][0] == pytest.approx(sum(got[:3]) / 3, abs=1e-9)


def test_rm_scorer_truncation_keeps_requirement(tiny_model_dir):
    from wrl_lightning.models.loading import load_tokenizer
    from wrl_lightning.models.rm_inputs import encode_pairs
    from wrl_lightning.models.templates import RM_TEMPLATES

    tokenizer = load_tokenizer("embedded:minilm")
    requirement = "End the letter with the exact phrase 'see you soon'."
    rows = encode_pairs(tokenizer, RM_TEMPLATES["paper"], ["lorem ipsum dolor " * 200], [requirement], max_length=64)
    assert len(rows[0]) <= 64
    assert "see you soon" in tokenizer.decode(rows[0])


def test_scalar_rm_scorer_runs(make_cfg, groups_file, tmp_path, tiny_model_dir):
    metrics = run_stage(make_cfg(["stage=weval", f"weval.input={groups_file}", "scorer=scalar_rm",
                                  "scorer.model=embedded:tiny-qwen2", "logger=none"], tmp_path / "out"))
    assert metrics["n_groups"] == 6 and metrics["scorer/n_sequences"] == 24


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["weval.input=/no/such/file.jsonl"], "config error: weval.input: file not found"),
        (["weval.ties=optimistic"], "config error: weval.ties: 'optimistic' is not one of"),
        (["weval.format=csv"], "config error: weval.format"),
        (["scorer=rm"], "config error: scorer.model: missing value; pass scorer.model=DIR or a hub id "
                        "(scorer=rm: an export of stage=rm"),  # not a random head on a bare backbone
    ],
)
def test_cli_config_errors_exit_nonzero(tmp_path, overrides, message):
    result = subprocess.run(
        [sys.executable, "-m", "wrl_lightning", "stage=weval", "logger=none", "extras.print_config=false",
         f"paths.output_dir={tmp_path}", *overrides],
        cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert message in " ".join(result.stderr.split())
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.slow
def test_rm_scorer_on_two_processes_matches_one(tmp_path, saved_classifier):
    """`scorer.trainer.devices=2` (DDP, gloo on CPU) shards the batches and gathers the same scores."""
    model = saved_classifier("embedded:tiny-qwen2")
    outputs = []
    for devices in (1, 2):
        out = tmp_path / f"devices{devices}"
        subprocess.run(
            [sys.executable, "-m", "wrl_lightning", "stage=weval", "weval.limit=6", "scorer=rm", f"scorer.model={model}",
             "scorer.trainer.accelerator=cpu", f"scorer.trainer.devices={devices}", "+scorer.trainer.strategy=ddp",
             "logger=none", "extras.print_config=false", f"paths.output_dir={out}"],
            cwd=REPO, env=child_env(), check=True, capture_output=True, timeout=600,
        )
        outputs.append([json.loads(line)["requirement_scores"] for line in (out / "scores.jsonl").read_text().splitlines()])
    assert outputs[0] == outputs[1]


def test_rule_scorer_on_embedded_demo_groups(make_cfg, tmp_path):
    """The hand-written demo groups (the first 42, every requirement verifiable) keep exactly their flagged
    requirements, so rules rank them right."""
    metrics = run_stage(make_cfg(["stage=weval", "scorer=rule", "logger=none", "weval.bootstrap=0", "weval.limit=42"],
                                 tmp_path / "out"))
    assert metrics["n_groups"] == 42 and {"size/3/n_groups", "size/4/n_groups", "size/5/n_groups"} <= metrics.keys()
    assert metrics["kendall_tau"] == pytest.approx(1.0) and metrics["pair_accuracy"] == pytest.approx(1.0)


def test_rule_scorer_needs_verifiable_requirements(make_cfg, groups_file):
    from wrl_lightning.errors import RecordError

    with pytest.raises(RecordError, match="no verifiable requirement"):
        run_stage(make_cfg(["stage=weval", f"weval.input={groups_file}", "scorer=rule", "logger=none"]))

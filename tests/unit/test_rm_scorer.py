"""Pair-level RM scoring: `RMScorer.score_pairs` (the WEval path) and the resident RM for repeated calls."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch

from tests.unit.test_weval_importers import canonical_group
from wrl_lightning.models.rm_inputs import encode_pairs
from wrl_lightning.models.templates import RM_TEMPLATES
from wrl_lightning.scoring.resident import ResidentRM
from wrl_lightning.scoring.rm import RMScorer
from wrl_lightning.utils.files import write_jsonl
from wrl_lightning.weval.importers import load_groups

RESPONSES = ["ok", "Dear team, thank you for your hard work this quarter. " * 6, "A lantern by the ocean.",
             "Is there anything else? " * 3, "ok"]
REQUIREMENTS = ["Do not use any commas.", "End with the phrase 'Is there anything else?'.",
                "Do not use any commas.", "Use a formal tone.", "Do not use any commas."]


@pytest.fixture(scope="module")
def rm_dir(saved_classifier):
    return saved_classifier("embedded:tiny-qwen2")


def make_scorer(kind: str, model, **options):
    """The WEval scorer on CPU or the resident RM on CPU, for the same checkpoint."""
    if kind == "weval":
        return RMScorer(str(model), trainer={"accelerator": "cpu"}, **options)
    return ResidentRM.load(str(model), device="cpu", **options)


def no_trainer(monkeypatch):
    """Any Lightning Trainer built from now on fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("a pl.Trainer was built")

    monkeypatch.setattr(pl.Trainer, "__init__", refuse)


def test_pair_scores_equal_the_group_scores(rm_dir, tmp_path):
    rows = [canonical_group(f"g{i}", size) for i, size in enumerate([3, 4])]
    for row in rows:
        for k, response in enumerate(row["responses"], 1):
            response["text"] = " ".join(["rain"] * (5 * k))
    groups = load_groups(write_jsonl(tmp_path / "groups.jsonl", rows), "canonical")
    scorer = make_scorer("weval", rm_dir)
    by_group = [s for scored in scorer.score(groups) for row in scored.requirement_scores for s in row]
    pairs = [(r.text, q.text) for g in groups for r in g.responses for q in g.requirements]
    by_pair = scorer.score_pairs([p[0] for p in pairs], [p[1] for p in pairs])
    assert by_pair == pytest.approx(by_group, abs=1e-6)


def test_resident_rm_equals_the_weval_scorer(rm_dir):
    expected = make_scorer("weval", rm_dir).score_pairs(RESPONSES, REQUIREMENTS)
    got = make_scorer("resident", rm_dir).score_pairs(RESPONSES, REQUIREMENTS)
    assert got == pytest.approx(expected, abs=1e-5)


def test_resident_rm_builds_no_trainer_and_stays_on_its_device(rm_dir, monkeypatch):
    rm = make_scorer("resident", rm_dir)
    model = rm.model
    no_trainer(monkeypatch)
    first = rm.score_pairs(RESPONSES, REQUIREMENTS)
    second = rm.score_pairs(RESPONSES[::-1], REQUIREMENTS[::-1])
    assert second == pytest.approx(first[::-1], abs=1e-6)
    assert rm.model is model and not model.training
    assert {p.device for p in model.parameters()} == {rm.device}


@pytest.mark.parametrize("kind", ["weval", "resident"])
def test_identical_pairs_are_scored_once(rm_dir, kind):
    scorer = make_scorer(kind, rm_dir)
    scores = scorer.score_pairs(RESPONSES, REQUIREMENTS)
    assert scorer.stats["n_sequences"] == 4  # ("ok", "Do not use any commas.") twice
    assert scores[0] == scores[4] and len(scores) == 5


@pytest.mark.parametrize("kind", ["weval", "resident"])
def test_order_is_kept_under_length_grouping(rm_dir, kind):
    scorer = make_scorer(kind, rm_dir, batch_size=2)
    one_by_one = [scorer.score_pairs([a], [b])[0] for a, b in zip(RESPONSES, REQUIREMENTS)]
    assert scorer.score_pairs(RESPONSES, REQUIREMENTS) == pytest.approx(one_by_one, abs=1e-5)
    assert scorer.stats["n_batches"] == 2 and scorer.stats["padding_efficiency"] < 1.0  # rows were regrouped


@pytest.mark.parametrize("kind", ["weval", "resident"])
def test_empty_input_scores_nothing(rm_dir, kind, monkeypatch):
    scorer = make_scorer(kind, rm_dir)
    no_trainer(monkeypatch)
    assert scorer.score_pairs([], []) == []


def test_rounding_is_kept(rm_dir):
    scores = make_scorer("resident", rm_dir, round_decimals=3).score_pairs(RESPONSES, REQUIREMENTS)
    assert scores == [round(s, 3) for s in scores]


def test_both_take_the_checkpoints_template_head_and_length(rm_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(rm_dir, num_labels=1,
                                                               ignore_mismatched_sizes=True)
    template = "Constraint: {requirement} Response: {response}"
    model.config.wrl_template, model.config.wrl_max_length = template, 96
    model.save_pretrained(tmp_path / "rm")
    AutoTokenizer.from_pretrained(rm_dir).save_pretrained(tmp_path / "rm")
    for scorer in (make_scorer("weval", tmp_path / "rm"), make_scorer("resident", tmp_path / "rm")):
        inputs = scorer.inputs
        assert (inputs.template, inputs.head, inputs.max_length) == (template, "sigmoid", 96)
    wrapped = ResidentRM(model, AutoTokenizer.from_pretrained(rm_dir), max_length=64, device="cpu")
    assert (wrapped.inputs.head, wrapped.inputs.max_length) == ("sigmoid", 64)  # an explicit value wins


@pytest.mark.parametrize("kind", ["weval", "resident"])
def test_bf16_export_is_scored_with_float32_weights(rm_dir, tmp_path, kind):
    """A bf16 checkpoint (Qwen2.5, `rm.export.dtype: bfloat16`) is not scored in bf16 on a CPU."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    bf16 = tmp_path / "bf16"
    AutoModelForSequenceClassification.from_pretrained(rm_dir, dtype=torch.bfloat16).save_pretrained(bf16)
    tokenizer = AutoTokenizer.from_pretrained(rm_dir)
    tokenizer.save_pretrained(bf16)
    assert AutoModelForSequenceClassification.from_pretrained(bf16).dtype == torch.bfloat16  # by default
    reference = AutoModelForSequenceClassification.from_pretrained(bf16, dtype=torch.float32).eval()
    with torch.inference_mode():
        expected = [torch.softmax(reference(input_ids=torch.tensor([row])).logits, -1)[0, 1].item()
                    for row in encode_pairs(tokenizer, RM_TEMPLATES["paper"], RESPONSES, REQUIREMENTS, 512)]

    scorer = make_scorer(kind, bf16)
    model = scorer.backend.model if kind == "weval" else scorer.model
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert scorer.score_pairs(RESPONSES, REQUIREMENTS) == pytest.approx(expected, abs=1e-6)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_resident_rm_on_gpu_stays_there_and_matches_cpu(rm_dir):
    rm = ResidentRM.load(str(rm_dir), device="cuda")
    first, second = rm.score_pairs(RESPONSES, REQUIREMENTS), rm.score_pairs(RESPONSES, REQUIREMENTS)
    assert first == second and rm.autocast == torch.bfloat16
    assert {p.device.type for p in rm.model.parameters()} == {"cuda"}
    on_cpu = make_scorer("resident", rm_dir).score_pairs(RESPONSES, REQUIREMENTS)
    assert first == pytest.approx(on_cpu, abs=2e-2)

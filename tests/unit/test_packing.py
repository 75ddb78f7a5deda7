"""Packed scoring of decoder RMs (`wrl_lightning.models.packing`): same scores as the one-pair path, fewer tokens."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import shared_file
from wrl_lightning.models.loading import load_sequence_classifier, load_tokenizer
from wrl_lightning.models.packing import pack_rows, packed_mask, resolve_packing
from wrl_lightning.models.templates import RM_TEMPLATES
from wrl_lightning.scoring import classifier
from wrl_lightning.scoring.resident import ResidentRM
from wrl_lightning.scoring.rm import RMScorer
from wrl_lightning.weval.importers import load_groups


@pytest.fixture(scope="module")
def level_pairs() -> tuple[list[str], list[str]]:
    """Every (response, requirement) of 3 real groups (5 responses x 5 requirements each)."""
    groups = load_groups(shared_file("writing_levels_5c.jsonl"), "levels")[:3]
    pairs = [(r.text, q.text) for g in groups for k, r in enumerate(g.responses)
             for q in (g.requirements[i] for i in g.requirement_indices(k))]
    assert len(pairs) == 75
    return [p[0] for p in pairs], [p[1] for p in pairs]


@pytest.fixture(scope="module")
def qwen_dir(saved_classifier):
    return saved_classifier("embedded:tiny-qwen2")


@pytest.fixture
def encode_once(monkeypatch):
    """The scorers' ``encode_pairs``, memoized across this module's tests (the tiny tokenizer is slow on long
    texts, and cutting responses re-tokenizes them): the same rows feed every variant."""
    real = classifier.encode_pairs

    def cached(tokenizer, template, responses, requirements, max_length):
        key = (tokenizer.name_or_path, template, tuple(responses), tuple(requirements), max_length)
        if key not in _ROWS:
            _ROWS[key] = real(tokenizer, template, responses, requirements, max_length)
        return [list(row) for row in _ROWS[key]]

    monkeypatch.setattr(classifier, "encode_pairs", cached)


_ROWS: dict = {}


def resident(path, attention: str, **options) -> ResidentRM:
    model = load_sequence_classifier(str(path), dtype=torch.float32, attn_implementation=attention)
    return ResidentRM(model, load_tokenizer(str(path)), device="cpu", precision="32-true", **options)


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
@pytest.mark.parametrize("max_length", [None, 160])
def test_packed_scores_equal_the_one_pair_path(qwen_dir, level_pairs, encode_once, attention, max_length):
    """``None``: responses shortened to 150 characters, so no row is cut (512 tokens); 160: every response is cut."""
    responses, requirements = level_pairs
    if max_length is None:
        responses = [text[:150] for text in responses]
    # Small batches of rows / sequences of different lengths: both paths right-pad.
    one_pair = resident(qwen_dir, attention, packing="off", max_length=max_length, batch_size=4)
    packed = resident(qwen_dir, attention, packing="on", max_length=max_length, batch_size=2)
    assert packed.inputs.packing and not one_pair.inputs.packing
    expected = one_pair.score_pairs(responses, requirements)
    got = packed.score_pairs(responses, requirements)
    assert got == pytest.approx(expected, abs=1e-5)
    unpacked, stats = one_pair.stats, packed.stats
    assert unpacked["padding_efficiency"] < 1 and stats["padding_efficiency"] < 1
    assert stats["n_sequences"] == unpacked["n_sequences"] == 75 and stats["n_packed_sequences"] == 15
    assert stats["n_pair_tokens"] == unpacked["n_tokens"]
    ratio = stats["n_tokens"] / unpacked["n_tokens"]
    assert stats["n_tokens"] < unpacked["n_tokens"], f"packed/one-pair tokens = {ratio:.3f}"
    # Cut rows share less: a response's rows are cut to different lengths, the common prefix is the shortest cut.
    assert ratio < (0.5 if max_length is None else 0.8), f"packed/one-pair tokens = {ratio:.3f}"
    inputs = packed.inputs
    full = inputs.tokenizer([inputs.template.format(response=a, requirement=b)
                             for a, b in zip(responses, requirements)])["input_ids"]
    cut = sum(len(row) > inputs.max_length for row in full)
    assert cut == (0 if max_length is None else 75)


def test_packed_scores_equal_one_pair_per_forward(qwen_dir, level_pairs, encode_once):
    """Against the paper's loop: each row alone, no padding at all."""
    responses, requirements = level_pairs[0][:10], level_pairs[1][:10]
    packed = resident(qwen_dir, "sdpa", packing="on")
    model, inputs = packed.model, packed.inputs
    rows = classifier.encode_pairs(inputs.tokenizer, inputs.template, responses, requirements, inputs.max_length)
    with torch.inference_mode():
        alone = [torch.softmax(model(input_ids=torch.tensor([row])).logits, -1)[0, 1].item() for row in rows]
    assert packed.score_pairs(responses, requirements) == pytest.approx(alone, abs=1e-5)


def test_the_weval_scorer_packs_through_lightning(qwen_dir, level_pairs, encode_once):
    responses, requirements = level_pairs[0][:25], level_pairs[1][:25]
    scorers = {mode: RMScorer(str(qwen_dir), trainer={"accelerator": "cpu"}, packing=mode) for mode in ("off", "auto")}
    assert scorers["auto"].inputs.packing
    expected = scorers["off"].score_pairs(responses, requirements)
    assert scorers["auto"].score_pairs(responses, requirements) == pytest.approx(expected, abs=1e-5)
    assert scorers["auto"].stats["n_tokens"] < scorers["off"].stats["n_tokens"]


def test_auto_stays_off_for_an_encoder(saved_classifier, level_pairs):
    path = saved_classifier("embedded:minilm")
    responses, requirements = level_pairs[0][:10], level_pairs[1][:10]
    auto = ResidentRM.load(str(path), device="cpu")
    assert not auto.inputs.packing
    expected = ResidentRM.load(str(path), device="cpu", packing="off").score_pairs(responses, requirements)
    assert auto.score_pairs(responses, requirements) == expected
    with pytest.raises(ValueError, match="not a decoder"):
        ResidentRM.load(str(path), device="cpu", packing="on")


def test_auto_packs_decoders_only_when_the_template_ends_with_the_requirement(qwen_dir):
    model = load_sequence_classifier(str(qwen_dir))
    assert resolve_packing("auto", model, RM_TEMPLATES["paper"], 512)
    assert not resolve_packing("auto", model, "Constraint: {requirement}\nResponse: {response}", 512)
    assert resolve_packing(True, model, "Constraint: {requirement}\nResponse: {response}", 512)
    assert not resolve_packing("off", model, RM_TEMPLATES["paper"], 512)
    with pytest.raises(ValueError, match="packing must be"):
        resolve_packing("sometimes", model, RM_TEMPLATES["paper"], 512)


def test_pack_rows_shares_the_longest_common_prefix():
    rows = [[5, 6, 7, 8, 9], [5, 6, 7, 1], [5, 6, 2, 3, 0], [4, 4]]
    units = pack_rows(rows, ["a", "a", "a", "b"], pad_id=0)
    assert units[0].input_ids == [5, 6, 7, 8, 9, 7, 1, 2, 3, 0]
    assert units[0].position_ids == [0, 1, 2, 3, 4, 2, 3, 2, 3, 4]
    assert units[0].segments == [0, 0, 1, 1, 1, 2, 2, 3, 3, 3]
    assert units[0].reads == [(0, 4), (1, 6), (2, 8)]  # row 2 ends with the pad id: read its last other token
    assert units[1].input_ids == [4, 4] and units[1].reads == [(3, 1)]
    mask = packed_mask(torch.tensor([[0, 0, 1, 1, 2, -1]]), torch.float32)[0, 0] == 0
    assert mask.tolist() == [
        [True, False, False, False, False, False],
        [True, True, False, False, False, False],
        [True, True, True, False, False, False],
        [True, True, True, True, False, False],
        [True, True, False, False, True, False],
        [False, False, False, False, False, True],
    ]

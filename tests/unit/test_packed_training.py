"""Packed RM training (`RewardLitModule` + `PairDataModule`, packing on): the same loss and gradients as the
one-pair path, the same validation metrics, a real Trainer run; and the embedded decoder RM (SmolLM2)."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from tests.conftest import shared_file
from tests.unit.test_reward_module import cpu_trainer, write_groups
from wrl_lightning.errors import ConfigError
from wrl_lightning.models.callbacks import WEvalCallback
from wrl_lightning.models.loading import load_sequence_classifier, load_tokenizer
from wrl_lightning.models.packing import score_packed
from wrl_lightning.models.reward_module import RewardLitModule
from wrl_lightning.models.rm_data import PairDataModule
from wrl_lightning.models.rm_inputs import encode_pairs, length_grouped_batches, pad_batch
from wrl_lightning.models.templates import RM_TEMPLATES
from wrl_lightning.weval.importers import load_groups

TINY = "embedded:tiny-qwen2"


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> str:
    """The tiny Qwen2 with its seeded classifier head saved: every module loads the very same weights."""
    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("tiny-classifier")
    load_sequence_classifier(TINY, num_labels=2).save_pretrained(directory)
    load_tokenizer(TINY).save_pretrained(directory)
    return str(directory)


def module_of(name: str, **kwargs) -> RewardLitModule:
    module = RewardLitModule(model_name=name, optimizer=partial(torch.optim.AdamW, lr=1e-2), dtype="float32", **kwargs)
    module.configure_model()
    return module


def data_of(path: Path, tokenizer: str, fmt: str = "canonical", **kwargs) -> PairDataModule:
    data = PairDataModule(input=str(path), format=fmt, tokenizer=tokenizer, **{"max_length": 256, **kwargs})
    data.setup("fit")
    return data


def gradients(module: RewardLitModule, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    module.zero_grad()
    loss = module.objective.loss(module.batch_logits(batch), batch["labels"])
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in module.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
@pytest.mark.parametrize("max_length", [256, 20])
def test_packed_gradients_equal_the_one_pair_path(tmp_path, tiny_dir, attention, max_length):
    """All pairs of 3 groups in one batch, each way; 20 tokens: every response is cut (shared prefixes differ)."""
    path = write_groups(tmp_path / "groups.jsonl", 3)
    results, tokens = {}, {}
    for packing in (False, True):
        module = module_of(tiny_dir, attn_implementation=attention)
        data = data_of(path, tiny_dir, max_length=max_length, batch_size=1000, val_fraction=0.0, packing=packing)
        (batch,) = list(data.train_dataloader())
        assert ("segments" in batch) == packing and len(batch["labels"]) == 36
        results[packing] = gradients(module, batch)
        tokens[packing] = int(batch["attention_mask"].sum())
    (loss, grads), (packed_loss, packed_grads) = results[False], results[True]
    assert torch.isclose(packed_loss, loss, rtol=1e-5, atol=1e-6)
    assert grads.keys() == packed_grads.keys() and len(grads) > 10
    for name, grad in grads.items():
        torch.testing.assert_close(packed_grads[name], grad, rtol=1e-4, atol=1e-6, msg=lambda m, n=name: f"{n}: {m}")
    assert tokens[True] < (0.6 if max_length == 256 else 0.9) * tokens[False], tokens


def test_packing_modes_resolve_per_backbone(tiny_dir):
    assert module_of(tiny_dir).packs and not module_of(tiny_dir, packing="off").packs
    assert module_of(tiny_dir, template="Requirement: {requirement}\nResponse: {response}").packs is False
    assert module_of("embedded:minilm").packs is False  # an encoder: auto keeps the one-pair path
    with pytest.raises(ConfigError, match="model.rm.packing.*not a decoder"):
        module_of("embedded:minilm", packing=True)
    with pytest.raises(ConfigError, match="model.rm.packing.*must be one of"):
        RewardLitModule(model_name=TINY, optimizer=torch.optim.AdamW, packing="sometimes")


def test_packed_batches_keep_every_pair_once(tmp_path, tiny_dir):
    """Batches hold whole responses, at most batch_size pairs; labels/items follow the rows they read."""
    data = data_of(write_groups(tmp_path / "groups.jsonl", 4), tiny_dir, batch_size=7, eval_batch_size=7, val_fraction=0.5,
                   packing=True)
    rows = data.val_rows
    seen = []
    for batch in data.val_dataloader():
        assert len(batch["labels"]) <= 7
        assert torch.equal(batch["labels"], torch.tensor([rows.labels[i] for i in batch["index"].tolist()]))
        assert torch.equal(batch["items"], torch.tensor([rows.items[i] for i in batch["index"].tolist()]))
        seen += batch["index"].tolist()
    assert sorted(seen) == list(range(len(rows.input_ids)))


def test_validation_metrics_are_the_same_packed_or_not(tmp_path, tiny_dir):
    """Same weights, same held-out groups: accuracy, AUROC, loss and WEval tau agree across the two paths."""
    path = write_groups(tmp_path / "groups.jsonl", 6)
    metrics = {}
    for packing in (False, True):
        module = module_of(tiny_dir)
        data = data_of(path, tiny_dir, batch_size=4, val_fraction=0.5, packing=packing)
        (metrics[packing],) = cpu_trainer(callbacks=[WEvalCallback()]).validate(module, datamodule=data, verbose=False)
    assert {"val/auroc", "val/acc", "val/loss", "val/weval/kendall_tau"} <= metrics[True].keys()
    assert metrics[True].keys() == metrics[False].keys()
    for key, value in metrics[False].items():
        assert metrics[True][key] == pytest.approx(value, abs=1e-5), key


def test_trainer_fits_packed_for_two_epochs(tmp_path, tiny_dir):
    """A pairs file (Pair records), packing from the module (auto -> on), 2 epochs with validation."""
    groups = load_groups(write_groups(tmp_path / "groups.jsonl", 8), "canonical")
    pairs = [{"prompt": g.prompt, "response": r.text, "requirement": g.requirements[q].to_dict(), "label": int(r.kept[q]),
              "group_id": g.group_id, "source": "test"} for g in groups for r in g.responses for q in range(3)]
    pair_file = tmp_path / "pairs.jsonl"
    pair_file.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    data = data_of(pair_file, tiny_dir, fmt="pairs", batch_size=6, val_fraction=0.25)
    module = RewardLitModule(model_name=tiny_dir, optimizer=partial(torch.optim.AdamW, lr=2e-3))
    module.configure_model()
    before = {name: p.detach().clone() for name, p in module.named_parameters()}

    class Count(pl.Callback):
        pairs, packed, batches = 0, 0, 0

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            Count.pairs += len(batch["labels"])
            Count.packed += "segments" in batch
            Count.batches += 1

    trainer = cpu_trainer(max_epochs=2, callbacks=[Count()], num_sanity_val_steps=0)
    trainer.fit(module, datamodule=data)
    assert module.packs and Count.packed == Count.batches > 2
    assert Count.pairs == 2 * len(data.train_rows.labels)  # every training pair, each epoch
    assert {"val/auroc", "val/acc", "train/loss_epoch"} <= trainer.callback_metrics.keys()
    assert all(not torch.equal(before[name], p) for name, p in module.named_parameters())


@pytest.mark.slow
def test_smollm2_packed_scores_equal_the_one_pair_path():
    """The embedded decoder RM (SmolLM2-135M as a classifier, fp32) on real responses: 2 groups x 2 responses x
    5 requirements; 160 tokens cut the long responses, the short ones stay whole; both paths pad."""
    groups = load_groups(shared_file("writing_levels_5c.jsonl"), "levels")[:2]
    model = load_sequence_classifier("embedded:smollm2", num_labels=2, dtype=torch.float32).eval()
    tokenizer = load_tokenizer("embedded:smollm2")
    assert model.config.pad_token_id == tokenizer.pad_token_id is not None  # Llama: pad = EOS <|im_end|>
    template = RM_TEMPLATES["paper"]
    pairs = [(r.text, g.requirements[q].text) for g in groups for r in g.responses[:2] for q in range(5)]
    pairs += [("Short answer.", g.requirements[q].text) for g in groups[:1] for q in range(5)]
    responses, requirements = [p[0] for p in pairs], [p[1] for p in pairs]
    rows = encode_pairs(tokenizer, template, responses, requirements, max_length=160)
    full = tokenizer([template.format(response=a, requirement=b) for a, b in pairs])["input_ids"]
    assert any(len(f) > 160 for f in full) and any(len(f) < 160 for f in full)  # cut rows and whole rows
    torch.manual_seed(0)
    torch.nn.init.normal_(model.score.weight, std=0.05)  # a head that separates: scores far from 0.5
    one_pair, pads = [0.0] * len(rows), 0
    with torch.inference_mode():
        for index in length_grouped_batches([len(r) for r in rows], 6):
            batch = pad_batch([rows[i] for i in index], index, tokenizer.pad_token_id)
            pads += int((batch.attention_mask == 0).sum())
            logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
            for i, value in zip(index, torch.softmax(logits, -1)[:, 1].tolist(), strict=True):
                one_pair[i] = value
        packed, stats = score_packed(model, rows, responses, tokenizer.pad_token_id, "p1", batch_size=2, max_tokens=None)
    assert packed == pytest.approx(one_pair, abs=1e-5)
    assert pads > 0 and any(len(row) == 160 for row in rows)
    assert max(one_pair) - min(one_pair) > 0.05
    assert stats["padding_efficiency"] < 1 and stats["n_packed_sequences"] == 5
    assert stats["n_tokens"] < 0.5 * stats["n_pair_tokens"]

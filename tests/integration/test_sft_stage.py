"""``stage=sft`` (the SFT baseline): positives of the WRL data as chat examples, loss on response tokens only,
a real Trainer on the tiny model, and an export that transformers and ``generator=hf`` load."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from tests.conftest import shared_file
from wrl_lightning.data.records import Pair, Requirement
from wrl_lightning.errors import ConfigError
from wrl_lightning.models.chat import encode_prompt
from wrl_lightning.models.pair_sources import PairSet, load_pairs
from wrl_lightning.models.sft_data import IGNORE, SFTDataModule, examples_from_pairs
from wrl_lightning.utils.files import write_jsonl
from wrl_lightning.utils.run import run_stage

DEMO = Path(__file__).resolve().parents[2] / "wrl_lightning" / "data" / "builtin" / "weval_demo.jsonl"
QUICK = ["+experiment=sft_tiny", "logger=csv", "callbacks.progress_bar=null", "callbacks.model_summary=null",
         "trainer.max_epochs=2", "data.max_length=512", "trainer.num_sanity_val_steps=0"]


def epoch_losses(csv_path: Path) -> list[float]:
    with csv_path.open() as handle:
        return [float(row["train/loss_epoch"]) for row in csv.DictReader(handle) if row.get("train/loss_epoch")]


def test_sft_stage_trains_validates_and_exports(make_cfg, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from wrl_lightning.generation.base import GenerationRequest
    from wrl_lightning.generation.hf import HFGenerator
    from wrl_lightning.models.loading import load_causal_lm

    out = tmp_path / "run"
    metrics = run_stage(make_cfg(QUICK, out))
    for key in ("train/loss", "val/loss", "val/token_acc", "export_dir"):
        assert key in metrics, key
    assert metrics["export_dir"] == str(out / "export")
    assert json.loads((out / "metrics.json").read_text())["val/loss"] == pytest.approx(metrics["val/loss"])
    assert (metrics["data/train_examples"], metrics["data/val_examples"]) == (24, 6)  # one per demo group
    losses = epoch_losses(out / "csv" / "version_0" / "metrics.csv")
    assert len(losses) == 2 and losses[0] > losses[-1], losses
    first, last = metrics["train/loss_per_epoch"]
    assert first > last  # token-weighted epoch means (the CSV's are weighted by rows)

    export = Path(metrics["export_dir"])
    assert json.loads((export / "wrl_sft.json").read_text())["max_length"] == 512
    model = AutoModelForCausalLM.from_pretrained(export)
    tokenizer = AutoTokenizer.from_pretrained(export)
    base = load_causal_lm("embedded:tiny-qwen2")
    assert any(not torch.equal(p, base.get_parameter(name)) for name, p in model.named_parameters())
    stop = model.generation_config.eos_token_id
    assert tokenizer.eos_token_id in (stop if isinstance(stop, list) else [stop])  # generation stops where SFT taught
    prompt = torch.tensor([encode_prompt(tokenizer, "Write a short poem about the sea.")])
    generated = model.generate(prompt, max_new_tokens=6, do_sample=False)
    assert generated.shape[1] > prompt.shape[1]
    texts = HFGenerator(model=str(export), max_new_tokens=6, temperature=0, device="cpu").generate(
        [GenerationRequest(prompt="Write a short poem about the sea.", request_id="0")])
    assert len(texts) == 1 and isinstance(texts[0], str)


def test_prompt_and_padding_positions_are_masked(tiny_model_dir):
    from wrl_lightning.models.loading import load_causal_lm
    from wrl_lightning.models.sft_module import response_token_stats

    data = SFTDataModule(str(DEMO), "canonical", tokenizer=str(tiny_model_dir), max_length=320, batch_size=4,
                         val_fraction=0.2)
    data.setup()
    rows, tokenizer = data.train_rows, data.tokenizer
    index = sorted(range(len(rows)), key=lambda i: len(rows.input_ids[i]))[:3]  # rows of different lengths
    batch = data.train_dataloader().collate_fn([*index, ~index[0]])  # and a repeated (uncounted) row
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    for r, i in enumerate(index):
        ids, n_prompt = rows.input_ids[i], rows.prompt_lengths[i]
        example = data.train_examples[i]
        assert ids[:n_prompt] == encode_prompt(tokenizer, example.prompt)  # the chat prompt, as generator=hf sees it
        labels = batch["labels"][r]
        masked = labels == IGNORE
        expected = torch.zeros_like(masked)
        expected[:n_prompt] = True
        expected[len(ids):] = True
        assert torch.equal(masked, expected), r
        assert labels[n_prompt:len(ids)].tolist() == ids[n_prompt:]
        assert batch["attention_mask"][r].sum() == len(ids)
    assert (batch["labels"][3] == IGNORE).all()

    # a cut response ends at max_length without EOS; a whole one ends with EOS
    assert all(len(ids) <= 320 for ids in rows.input_ids)
    for ids in rows.input_ids:
        assert (ids[-1] == tokenizer.eos_token_id) == (len(ids) < 320)
    assert data.stats["truncated"] > 0

    # the loss counts exactly the response tokens: the same as transformers' own shifted loss
    model = load_causal_lm(str(tiny_model_dir))
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        nll, _, tokens = response_token_stats(logits, batch["labels"])
        reference = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
    assert int(tokens) == sum(len(rows.input_ids[i]) - rows.prompt_lengths[i] for i in index)
    assert float(nll / tokens) == pytest.approx(float(reference), rel=1e-4)


def test_long_prompts_are_dropped_and_split_is_prompt_disjoint(tiny_model_dir):
    data = SFTDataModule(str(DEMO), "canonical", tokenizer=str(tiny_model_dir), max_length=150, val_fraction=0.3)
    data.setup()
    assert data.stats["dropped_long_prompt"] > 0 and len(data.train_rows) < len(data.train_examples)
    assert all(n < len(ids) for ids, n in zip(data.train_rows.input_ids, data.train_rows.prompt_lengths))
    train = {e.prompt for e in data.train_examples}
    assert train and data.val_examples and not train & {e.prompt for e in data.val_examples}
    with pytest.raises(ConfigError, match="data.max_length"):
        SFTDataModule(str(DEMO), "canonical", tokenizer=str(tiny_model_dir), max_length=50).setup()


def test_levels_file_gives_the_top_level_of_each_group(tiny_model_dir):
    path = shared_file("writing_levels_5c.jsonl")
    data = SFTDataModule(str(path), "levels", tokenizer=str(tiny_model_dir), max_length=4096, max_groups=4,
                         val_fraction=0.25)
    data.setup()
    examples = data.train_examples + data.val_examples
    assert (len(data.train_examples), len(data.val_examples), data.stats["train_groups"]) == (3, 1, 3)
    top = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if row["level"] == 5:
            top[row["group_id"]] = (row["full_prompt"], row["response"])
    assert len({e.key for e in examples}) == 4
    for example in examples:
        assert (example.prompt, example.response) == top[example.key]


def test_pairs_file_positives_are_deduplicated(tmp_path):
    pairs = load_pairs(DEMO, "canonical").pairs
    path = write_jsonl(tmp_path / "pairs.jsonl", (p.to_dict() for p in pairs + pairs[:7]))  # some rows twice
    source = load_pairs(path, "pairs")
    assert not source.groups
    loose = examples_from_pairs(source, "any")
    strict = examples_from_pairs(source, "all")
    positives = {(p.prompt, p.response) for p in pairs if p.label == 1}
    assert [(e.prompt, e.response) for e in loose] == list(dict.fromkeys((p.prompt, p.response) for p in pairs
                                                                          if p.label == 1))
    assert len(loose) == len(positives) and all(e.key.startswith("builtin-") for e in loose)
    assert len(strict) == len({p.group_id for p in pairs})  # only each group's top response has no label-0 row
    one = Requirement("Use no commas.")
    mixed = PairSet([Pair("P", "R", one, 1, "g"), Pair("P", "R", one, 0, "g"), Pair("P", "S", one, 0, "g")])
    assert [e.response for e in examples_from_pairs(mixed, "any")] == ["R"]
    assert examples_from_pairs(mixed, "all") == []


def test_experiment_composes(make_cfg):
    cfg = make_cfg(["+experiment=sft_tiny", "model/sft=smollm2"])
    assert cfg.stage.name == "sft" and cfg.model.sft.model_name == "embedded:smollm2"
    assert cfg.data.tokenizer == "embedded:smollm2" and cfg.callbacks.weval is None
    assert cfg.callbacks.model_checkpoint.monitor == "val/loss"

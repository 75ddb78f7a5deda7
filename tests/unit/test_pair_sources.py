"""Pair readers (pairs | levels | canonical) and the RM datamodule: split, tokenization cache, batching."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from wrl_lightning.data.records import Pair, Requirement
from wrl_lightning.data.split import split_keys
from wrl_lightning.errors import ConfigError, RecordError
from wrl_lightning.models import rm_data
from wrl_lightning.models.pair_sources import PAIR_SOURCES, load_pairs
from wrl_lightning.models.rm_data import (
    TYPE_NAMES,
    LengthGroupedBatchSampler,
    PairDataModule,
)

WORDS = ["lantern", "ocean", "harbor", "meadow", "river", "falcon", "copper", "violet"]


def write_toy_groups(path: Path, n_groups: int = 8, n_requirements: int = 3) -> Path:
    """Canonical WEval groups whose level-k response mentions the first k required words."""
    rows = []
    for g in range(n_groups):
        words = [WORDS[(g + k) % len(WORDS)] for k in range(n_requirements)]
        responses = []
        for level in range(n_requirements + 1):
            kept = [k < level for k in range(n_requirements)]
            text = "A short note. " + " ".join(f"It has a {w}." for w, flag in zip(words, kept) if flag) + " The end."
            responses.append({"text": text, "kept": kept})
        rows.append({"group_id": f"g{g}", "prompt": f"Write note {g}.", "category": "creative",
                     "requirements": [{"text": f"Mention the word {w}.", "type": "lexical"} for w in words],
                     "responses": responses})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_registry_has_the_documented_formats():
    assert {"pairs", "levels", "canonical"} <= set(PAIR_SOURCES)
    with pytest.raises(ConfigError, match="data.format"):
        load_pairs("x.jsonl", "nope")


def test_levels_file_gives_25_pairs_per_group(levels_file):
    result = load_pairs(levels_file, "levels")
    assert len(result.groups) == 200 and len(result.pairs) == 200 * 25
    first = [p for p in result.pairs if p.group_id == result.groups[0].group_id]
    for pair in first:
        level = result.groups[0].responses[pair.meta["response_index"]].n_kept
        assert pair.label == int(pair.meta["requirement_index"] < level)  # requirement k kept by levels >= k
    assert sum(p.label for p in first) == 15  # 1 + 2 + 3 + 4 + 5
    assert all(p.requirement.type in TYPE_NAMES for p in result.pairs)


def test_pair_records_roundtrip_and_errors(tmp_path):
    pair = Pair(prompt="Write.", response="Hi.", requirement=Requirement("Use at most 50 words."), label=1, group_id="a")
    good = tmp_path / "pairs.jsonl"
    good.write_text(json.dumps(pair.to_dict()) + "\n")
    loaded = load_pairs(good, "pairs").pairs[0]
    assert (loaded.label, loaded.group_id, loaded.requirement.text) == (1, "a", "Use at most 50 words.")
    assert loaded.requirement.type == "length"  # inferred when the file has none
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(pair.to_dict()) + "\n" + json.dumps({**pair.to_dict(), "label": 2}) + "\n")
    with pytest.raises(RecordError, match=r"bad.jsonl:2: label"):
        load_pairs(bad, "pairs")


def test_canonical_groups_need_kept_flags(tmp_path):
    path = write_toy_groups(tmp_path / "g.jsonl", n_groups=2)
    assert len(load_pairs(path, "canonical").pairs) == 2 * 4 * 3
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for response in rows[0]["responses"]:
        response["n_kept"] = sum(response.pop("kept"))
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(RecordError, match="no 'kept' flags"):
        load_pairs(path, "canonical")


def test_split_is_by_group_and_seeded():
    keys = [f"g{i}" for i in range(10) for _ in range(3)]
    train, val = split_keys(keys, 0.3, seed=1)
    assert len(val) == 3 and len(train) == 7 and not train & val
    assert split_keys(keys, 0.3, seed=1) == (train, val)
    train, val = split_keys(keys, 0.5, seed=1, max_keys=4)
    assert len(train) == 2 and len(val) == 2


def test_batch_sampler_shards_evenly(monkeypatch):
    lengths = [5, 9, 3, 7, 8, 2, 6, 4, 1, 10, 11]
    sampler = LengthGroupedBatchSampler(lengths, batch_size=2, shuffle=True, seed=3, even="drop")
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first and sorted(map(tuple, list(sampler))) == sorted(map(tuple, first))
    for rank in range(2):
        monkeypatch.setattr(rm_data, "rank_and_world", lambda rank=rank: (rank, 2))
        assert len(list(LengthGroupedBatchSampler(lengths, 2, shuffle=True, seed=3, even="drop"))) == 3
    counted, repeated = [], []
    for rank in range(4):  # 6 batches padded to 8: two repeated, their rows as ~row
        monkeypatch.setattr(rm_data, "rank_and_world", lambda rank=rank: (rank, 4))
        pad = list(LengthGroupedBatchSampler(lengths, 2, shuffle=False, even="pad"))
        assert len(pad) == 2
        counted += [i for batch in pad for i in batch if i >= 0]
        repeated += [~i for batch in pad for i in batch if i < 0]
    assert sorted(counted) == list(range(len(lengths))) and len(repeated) == 4


def test_datamodule_split_weval_items_and_cache(tmp_path):
    path = write_toy_groups(tmp_path / "g.jsonl", n_groups=8)
    kwargs = dict(input=str(path), format="canonical", tokenizer="embedded:tiny-qwen2", max_length=64,
                  batch_size=4, val_fraction=0.25, cache_dir=str(tmp_path / "cache"), seed=0)
    dm = PairDataModule(**kwargs)
    dm.prepare_data()
    dm.setup("fit")
    assert dm.stats == {"train_pairs": 72, "train_groups": 6, "val_pairs": 24, "val_groups": 2, "weval_groups": 2}
    assert sorted(dm.val_rows.items) == list(range(24)) and set(dm.train_rows.items) == {-1}
    assert len(list((tmp_path / "cache").iterdir())) == 1
    again = PairDataModule(**kwargs)
    again.setup("fit")
    assert again.train_rows.input_ids == dm.train_rows.input_ids
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"input_ids", "attention_mask", "labels", "type_ids", "items"}
    assert batch["attention_mask"].sum(1).max() == batch["input_ids"].shape[1]  # padded to the longest row only
    repeat = dm.val_dataloader().collate_fn([~0, 0])  # ~row: a repeat that evens out ranks, run but not counted
    assert repeat["labels"].tolist() == [-1, dm.val_rows.labels[0]] and repeat["items"].tolist() == [-1, dm.val_rows.items[0]]
    assert torch.equal(repeat["input_ids"][0], repeat["input_ids"][1])


def test_datamodule_with_a_weval_file(tmp_path):
    pairs = write_toy_groups(tmp_path / "train.jsonl", n_groups=4)
    weval = write_toy_groups(tmp_path / "weval.jsonl", n_groups=3)
    dm = PairDataModule(input=str(pairs), format="canonical", tokenizer="embedded:tiny-qwen2", max_length=64,
                        val_fraction=0.25, weval_input=str(weval), weval_format="canonical")
    dm.setup("fit")
    assert len(dm.weval_groups) == 3 and len(dm.weval_items) == 3 * 4 * 3
    external = [label for label, item in zip(dm.val_rows.labels, dm.val_rows.items, strict=True) if item >= 0]
    assert external and set(external) == {-1}  # ranking only, not in the pair metrics


def test_long_responses_are_cut_not_the_requirement(tmp_path):
    path = tmp_path / "p.jsonl"
    pair = Pair(prompt="Write.", response="word " * 20000, requirement=Requirement("End with the phrase THE END."),
                label=0, group_id="a")
    path.write_text(json.dumps(pair.to_dict()) + "\n" + json.dumps({**pair.to_dict(), "group_id": "b"}) + "\n")
    dm = PairDataModule(input=str(path), format="pairs", tokenizer="embedded:minilm", max_length=48, val_fraction=0.5)
    dm.setup("fit")
    ids = dm.train_rows.input_ids[0]
    assert len(ids) == 48
    assert "the end" in dm.tokenizer.decode(ids).lower()


class _RecordRows(pl.LightningModule):
    """A linear model that records the row indices of each training batch per epoch."""

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.seen: dict[int, list[list[int]]] = {}

    def training_step(self, batch, batch_idx):
        self.seen.setdefault(self.current_epoch, []).append(batch.tolist())
        return self.layer(batch.float()[:, None]).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _epoch_batches(epochs: int) -> dict[int, list[list[int]]]:
    lengths = [5, 9, 3, 7, 8, 2, 6, 4, 1, 10, 11]
    loader = DataLoader(range(len(lengths)), collate_fn=torch.tensor,
                        batch_sampler=LengthGroupedBatchSampler(lengths, batch_size=2, seed=3, even="drop"))
    module = _RecordRows()
    pl.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, logger=False, enable_checkpointing=False,
               enable_progress_bar=False, enable_model_summary=False).fit(module, loader)
    return module.seen


def test_trainer_gets_a_new_seeded_batch_order_each_epoch():
    seen = _epoch_batches(3)
    assert seen[0] != seen[1] != seen[2] != seen[0], seen
    assert all(sorted(batches) == sorted(seen[0]) for batches in seen.values())  # the same batches, reordered
    assert _epoch_batches(3) == seen

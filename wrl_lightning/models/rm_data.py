"""The RM's LightningDataModule: labelled pairs in, length-grouped padded batches out.

- Pairs come from :mod:`wrl_lightning.models.pair_sources`; the validation split holds whole groups (by
  ``group_id``, else by prompt), so no prompt is shared with training.
- Texts are tokenized once with the RM template (``rm_inputs.encode_pairs``: the requirement is kept, the
  response cut) through ``datasets.map``; with ``cache_dir`` the token ids are saved and reused across runs.
- Batches are formed by length (``length_grouped_batches``) and padded per batch; the batch sampler shuffles
  the batch order per epoch and gives each rank its share, so every rank runs the same number of steps.
  Validation batches repeated to even out the ranks count in no metric; checkpoints keep the position in the
  batch order (the datamodule's ``state_dict``), so a run resumed mid-epoch continues with the next batch.
- WEval validation groups (held-out groups of a group format, or a WEval file) are scored in the same
  validation pass: each validation row may carry an ``item`` = (group, response, requirement) index.
- Packed batches (decoder RMs, :mod:`wrl_lightning.models.packing`): each batch item is one response with
  all its requirements (the response's tokens once), batched by length with at most ``batch_size`` pairs per
  batch; the batch then carries the packed tensors and, per pair read, ``labels``/``type_ids``/``items``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from wrl_lightning.data.records import Pair, WEvalGroup
from wrl_lightning.data.split import split_keys
from wrl_lightning.data.taxonomy import REQUIREMENT_TYPES
from wrl_lightning.errors import ConfigError
from wrl_lightning.models.loading import load_tokenizer
from wrl_lightning.models.packing import PackedUnit, collate_units, pack_rows
from wrl_lightning.models.pair_sources import PairSet, load_pairs
from wrl_lightning.models.rm_inputs import encode_pairs, ensure_pad_token, length_grouped_batches, pad_batch
from wrl_lightning.models.templates import RM_TEMPLATES, get_template
from wrl_lightning.training.distributed import rank_and_world
from wrl_lightning.weval.importers import IMPORTERS, load_groups

log = logging.getLogger(__name__)

#: Requirement types in a fixed order: a row's ``type_id`` indexes this tuple.
TYPE_NAMES: tuple[str, ...] = tuple(REQUIREMENT_TYPES)
#: Responses are cut to ``max_length * CHARS_PER_TOKEN`` characters before tokenizing (a 2 MB response
#: otherwise costs minutes); no tokenizer packs that many characters into one token on real text.
CHARS_PER_TOKEN = 32


class LengthGroupedBatchSampler(Sampler[list[int]]):
    """Batches of similar length, in a seeded per-epoch order, sharded over ranks.

    ``even="drop"`` drops the last few batches so ranks get equal counts (training); ``even="pad"`` repeats
    the first ones instead, so every row is seen (validation): a repeated row comes as ``~row`` (negative),
    which the :class:`Collator` runs but marks as counted nowhere. ``sizes``: what each item counts for
    against ``batch_size`` (packed sequences: their pairs); None = 1 each.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, max_tokens: int | None = None,
                 shuffle: bool = True, seed: int = 0, even: str = "drop", sizes: Sequence[int] | None = None):
        self.batches = length_grouped_batches(lengths, batch_size, max_tokens, sizes)
        self.shuffle, self.seed, self.even, self.epoch, self.skip = shuffle, seed, even, 0, 0
        self.sampler = self  # Lightning calls set_epoch on ``batch_sampler.sampler``, never on a batch sampler

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at each epoch start: a new, reproducible batch order."""
        self.epoch = epoch

    def resume(self, epoch: int, batches: int) -> None:
        """The next pass is epoch ``epoch`` from its batch ``batches`` on (exact mid-epoch resume)."""
        self.epoch, self.skip = epoch, batches

    def _share(self) -> list[list[int]]:
        order = list(range(len(self.batches)))
        if self.shuffle:
            random.Random(self.seed + self.epoch).shuffle(order)
        batches = [self.batches[k] for k in order]
        rank, world = rank_and_world()
        if self.even == "drop":
            per_rank = len(batches) // world
        else:
            per_rank = math.ceil(len(batches) / world)
            batches += [[~i for i in batches[k % len(batches)]] for k in range(per_rank * world - len(batches))]
        return batches[rank::world][:per_rank]

    def __iter__(self) -> Iterator[list[int]]:
        skip, self.skip = self.skip, 0
        return iter(self._share()[skip:])

    def __len__(self) -> int:
        return len(self._share())


@dataclass
class IndexedRows(Dataset):
    """Token rows served by index: the batch sampler picks indices, a collator pads the rows."""

    input_ids: list[list[int]]

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, i: int) -> int:
        return i

    def lengths(self) -> list[int]:
        return [len(row) for row in self.input_ids]

    def sizes(self) -> list[int] | None:
        """What each item counts for against the batch size (None: 1 each)."""
        return None


@dataclass
class TokenRows(IndexedRows):
    """Tokenized pairs: ``label`` -1 = unlabelled; ``item`` -1 = not part of a WEval group; ``owners`` name
    each row's response (rows of one owner are packed together)."""

    labels: list[int]
    type_ids: list[int]
    items: list[int]
    owners: list[str]


@dataclass
class PackedRows(Dataset):
    """Token rows packed per response (:func:`~wrl_lightning.models.packing.pack_rows`): item ``k`` is
    ``units[k]``, a response with all its requirements."""

    rows: TokenRows
    units: list[PackedUnit]

    @classmethod
    def pack(cls, rows: TokenRows, pad_id: int) -> PackedRows:
        return cls(rows, pack_rows(rows.input_ids, rows.owners, pad_id))

    def __len__(self) -> int:
        return len(self.units)

    def __getitem__(self, k: int) -> int:
        return k

    def lengths(self) -> list[int]:
        return [len(unit.input_ids) for unit in self.units]

    def sizes(self) -> list[int]:
        return [len(unit.reads) for unit in self.units]


class Collator:
    """Row indices -> a right-padded batch dict (``input_ids``, ``attention_mask``, ``labels``, ``type_ids``, ``items``).

    A negative index ``~row`` is a repeat (see :class:`LengthGroupedBatchSampler`): its ``labels`` and ``items``
    are -1, so no metric counts it.
    """

    def __init__(self, rows: TokenRows, pad_id: int):
        self.rows, self.pad_id = rows, pad_id

    def __call__(self, index: list[int]) -> dict[str, torch.Tensor]:
        counted = torch.tensor([i >= 0 for i in index])
        index = [i if i >= 0 else ~i for i in index]
        padded = pad_batch([self.rows.input_ids[i] for i in index], index, self.pad_id)
        return {
            "input_ids": padded.input_ids,
            "attention_mask": padded.attention_mask,
            "labels": torch.tensor([self.rows.labels[i] for i in index]).where(counted, -1),
            "type_ids": torch.tensor([self.rows.type_ids[i] for i in index]),
            "items": torch.tensor([self.rows.items[i] for i in index]).where(counted, -1),
        }


class PackedCollator:
    """Unit indices -> a packed batch dict: the :class:`~wrl_lightning.models.packing.PackedBatch` tensors
    (:meth:`~wrl_lightning.models.packing.PackedBatch.to_dict`), ``attention_mask`` (1 on real
    tokens), and per pair read (in ``index`` order) ``labels``, ``type_ids`` and ``items``.

    A negative index ``~unit`` is a repeat (see :class:`LengthGroupedBatchSampler`): its pairs' ``labels``
    and ``items`` are -1, so no metric counts them.
    """

    def __init__(self, rows: PackedRows, pad_id: int):
        self.rows, self.pad_id = rows, pad_id

    def __call__(self, index: list[int]) -> dict[str, torch.Tensor]:
        units = [self.rows.units[k if k >= 0 else ~k] for k in index]
        packed = collate_units(units, self.pad_id)
        counted = torch.tensor([index[b] >= 0 for b in packed.read_rows.tolist()], dtype=torch.bool)
        rows, pairs = self.rows.rows, packed.index.tolist()
        return {
            **packed.to_dict(),
            "attention_mask": (packed.segments >= 0).long(),
            "labels": torch.tensor([rows.labels[i] for i in pairs], dtype=torch.long).where(counted, -1),
            "type_ids": torch.tensor([rows.type_ids[i] for i in pairs], dtype=torch.long),
            "items": torch.tensor([rows.items[i] for i in pairs], dtype=torch.long).where(counted, -1),
        }


def group_key(pair: Pair) -> str:
    """What a split keeps together: the group id, else the prompt."""
    return pair.group_id or pair.prompt


def _file_identity(path: Path) -> dict:
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def tokenize_texts(tokenizer, template: str, responses: list[str], requirements: list[str], max_length: int,
                   cache_dir: str | None = None, key: dict | None = None) -> list[list[int]]:
    """Token ids of the template filled with each (response, requirement), via ``datasets.map``.

    With ``cache_dir`` and ``key`` (what identifies the inputs), ids are saved there and reused.
    """
    from datasets import Dataset, load_from_disk

    fingerprint = hashlib.sha1(json.dumps([key, template, max_length, CHARS_PER_TOKEN], sort_keys=True).encode()).hexdigest()
    path = Path(cache_dir) / f"rm_tokens-{fingerprint[:16]}" if cache_dir and key else None
    if path is not None and path.exists():
        return load_from_disk(str(path)).data.column("input_ids").to_pylist()
    limit = max_length * CHARS_PER_TOKEN

    def encode(batch: dict[str, list]) -> dict[str, list]:
        clipped = [text[:limit] for text in batch["response"]]
        return {"input_ids": encode_pairs(tokenizer, template, clipped, batch["requirement"], max_length)}

    dataset = Dataset.from_dict({"response": responses, "requirement": requirements}).map(
        encode, batched=True, batch_size=1024, remove_columns=["response", "requirement"],
        keep_in_memory=True, new_fingerprint=fingerprint, desc="tokenizing pairs",
    )
    if path is not None:
        tmp = path.with_name(path.name + ".tmp")
        dataset.save_to_disk(str(tmp))
        tmp.replace(path)
    return dataset.data.column("input_ids").to_pylist()


class LengthGroupedDataModule(pl.LightningDataModule):
    """Rows batched by length (:class:`LengthGroupedBatchSampler`) with a training position that checkpoints keep.

    Subclasses set ``train_rows`` / ``val_rows`` (datasets with ``lengths()``), ``batch_size``,
    ``eval_batch_size``, ``max_tokens``, ``num_workers``, ``seed`` and give :meth:`collator`.
    """

    def __init__(self):
        super().__init__()
        self._resume: dict[str, int] | None = None

    def collator(self, rows: Dataset) -> Callable[[list[int]], dict[str, torch.Tensor]]:
        """Row indices -> a padded batch dict."""
        raise NotImplementedError

    def batch_items(self, rows: Dataset) -> Dataset:
        """What the loader batches from ``rows`` (here the rows themselves; subclasses may pack them)."""
        return rows

    def state_dict(self) -> dict[str, int]:
        """Where training stands in the batch order (saved in checkpoints): the epoch and its batches done."""
        trainer = self.trainer
        if trainer is None:
            return {}
        done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        if done >= trainer.num_training_batches:  # the epoch is done: resume at the start of the next
            return {"epoch": trainer.current_epoch + 1, "batches": 0}
        return {"epoch": trainer.current_epoch, "batches": done}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        """Resume the batch order there: the next training dataloader starts at that batch."""
        self._resume = state_dict

    def _loader(self, rows: Dataset, batch_size: int, train: bool) -> DataLoader:
        rows = self.batch_items(rows)
        sampler = LengthGroupedBatchSampler(rows.lengths(), batch_size, self.max_tokens, shuffle=train, seed=self.seed,
                                            even="drop" if train else "pad", sizes=rows.sizes())
        # an own generator: creating an iterator then leaves the global RNG (dropout) alone, so resume is exact
        return DataLoader(rows, batch_sampler=sampler, collate_fn=self.collator(rows),
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
                          generator=torch.Generator().manual_seed(self.seed))

    def train_dataloader(self) -> DataLoader:
        loader = self._loader(self.train_rows, self.batch_size, train=True)
        if self._resume:
            loader.batch_sampler.resume(**self._resume)
            self._resume = None
        return loader

    def val_dataloader(self) -> DataLoader | list:
        return self._loader(self.val_rows, self.eval_batch_size, train=False) if len(self.val_rows) else []



class PairDataModule(LengthGroupedDataModule):
    """Labelled (response, requirement) pairs for the RM, with an optional WEval validation set.

    Args:
        input: pair file (``format`` says how to read it).
        format: a key of ``pair_sources.PAIR_SOURCES`` (pairs | levels | canonical).
        tokenizer: tokenizer name (hub id, folder or ``embedded:NAME``), normally the RM backbone.
        template: RM template name in ``RM_TEMPLATES`` or a format string with ``{response}``/``{requirement}``.
        max_length: tokens per row; the response is cut, the requirement kept.
        batch_size / eval_batch_size: rows per training / validation batch (eval default: 2 x batch_size).
        max_tokens: optional cap on padded tokens per batch (batches then shrink for long rows).
        val_fraction: fraction of groups held out for validation (0: no validation split).
        max_groups: use only this many groups (seeded pick), for quick runs.
        weval_input / weval_format: WEval groups to rank in validation; None uses the held-out groups of a
            group format (levels | canonical).
        cache_dir: where tokenized ids are cached (None: tokenize in memory each run).
        seed: seed of the split and the batch order.
        packing: batch each response with all its requirements as one packed sequence (decoder RMs,
            :mod:`~wrl_lightning.models.packing`; ``batch_size`` then caps the pairs per batch); None follows the
            module being fitted (``RewardLitModule.packs``, from ``model.rm.packing``), off without one.
    """

    def __init__(self, input: str, format: str = "pairs", tokenizer: str = "embedded:minilm", template: str = "paper",
                 max_length: int = 512, batch_size: int = 8, eval_batch_size: int | None = None,
                 max_tokens: int | None = None, val_fraction: float = 0.1, max_groups: int | None = None,
                 weval_input: str | None = None, weval_format: str = "canonical", num_workers: int = 0,
                 cache_dir: str | None = None, seed: int = 42, trust_remote_code: bool = False,
                 packing: bool | None = None):
        super().__init__()
        if not 0 <= val_fraction < 1:
            raise ConfigError("data.val_fraction", f"must be in [0, 1), got {val_fraction}")
        if weval_input and weval_format not in IMPORTERS:
            raise ConfigError("data.weval_format", f"unknown format {weval_format!r} (known: {', '.join(sorted(IMPORTERS))})")
        self.input, self.format = Path(input), format
        self.tokenizer_name, self.trust_remote_code = tokenizer, trust_remote_code
        self.template = get_template(RM_TEMPLATES, template, "data.template")
        self.max_length, self.batch_size, self.max_tokens = max_length, batch_size, max_tokens
        self.eval_batch_size = eval_batch_size or 2 * batch_size
        self.val_fraction, self.max_groups, self.seed = val_fraction, max_groups, seed
        self.weval_input, self.weval_format = weval_input, weval_format
        self.num_workers, self.cache_dir = num_workers, cache_dir
        self.packing = packing
        self.train_rows: TokenRows | None = None
        self.val_rows: TokenRows | None = None
        self.weval_groups: list[WEvalGroup] = []
        self.weval_items: list[tuple[int, int, int]] = []
        self.stats: dict[str, float] = {}
        self._tokenizer = None

    @property
    def tokenizer(self):
        """The backbone's tokenizer, with a pad token."""
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.tokenizer_name, trust_remote_code=self.trust_remote_code)
            ensure_pad_token(self._tokenizer)
        return self._tokenizer

    def _tokenize(self, responses: list[str], requirements: list[str], source: Path, fmt: str, rows: list[int]) -> list[list[int]]:
        digest = hashlib.sha1(json.dumps(rows).encode()).hexdigest()
        key = {**_file_identity(source), "format": fmt, "tokenizer": self.tokenizer_name, "rows": digest}
        return tokenize_texts(self.tokenizer, self.template, responses, requirements, self.max_length, self.cache_dir, key)

    def prepare_data(self) -> None:
        """Fill the token cache once (rank 0) so other ranks only read it."""
        if self.cache_dir:
            self._load()

    def _load(self) -> tuple[PairSet, set[str], set[str], list[int], list[int], dict[int, list[int]]]:
        """Pairs, the split (train/val keys and pair indices) and the token ids of the chosen pairs."""
        source = load_pairs(self.input, self.format)
        train_keys, val_keys = split_keys([group_key(p) for p in source.pairs], self.val_fraction, self.seed, self.max_groups)
        train = [i for i, p in enumerate(source.pairs) if group_key(p) in train_keys]
        val = [i for i, p in enumerate(source.pairs) if group_key(p) in val_keys]
        chosen = train + val
        ids = self._tokenize([source.pairs[i].response for i in chosen], [source.pairs[i].requirement.text for i in chosen],
                             self.input, self.format, chosen)
        return source, train_keys, val_keys, train, val, dict(zip(chosen, ids, strict=True))

    def setup(self, stage: str | None = None) -> None:
        if self.train_rows is not None:
            return
        source, train_keys, val_keys, train, val, ids = self._load()
        self.train_rows = _rows(source.pairs, ids, train, {})
        if self.weval_input:
            self.val_rows = _rows(source.pairs, ids, val, {})
            self._add_weval_file({source.pairs[i].prompt for i in train})
        else:
            self.weval_groups = [g for g in source.groups if g.group_id in val_keys]
            self.val_rows = _rows(source.pairs, ids, val, self._index_items(self.weval_groups))
        self.stats = {"train_pairs": len(train), "train_groups": len(train_keys), "val_pairs": len(val),
                      "val_groups": len(val_keys), "weval_groups": len(self.weval_groups)}
        log.info("RM data: %s", ", ".join(f"{k}={v}" for k, v in self.stats.items()))

    def _index_items(self, groups: list[WEvalGroup]) -> dict[tuple[str, int, int], int]:
        """Number every (group, response, requirement) item; map (group_id, response, requirement) -> item."""
        self.weval_items = [(g, r, q) for g, group in enumerate(groups)
                            for r in range(len(group.responses)) for q in group.requirement_indices(r)]
        return {(groups[g].group_id, r, q): k for k, (g, r, q) in enumerate(self.weval_items)}

    def _add_weval_file(self, train_prompts: set[str]) -> None:
        """Append the items of a WEval file to the validation rows (unlabelled: ranking only)."""
        path = Path(self.weval_input)
        self.weval_groups = load_groups(path, self.weval_format, key="data.weval_format")
        leaked = sum(group.prompt in train_prompts for group in self.weval_groups)
        if leaked:
            log.warning("%d of %d WEval validation groups share their prompt with training pairs", leaked, len(self.weval_groups))
        self._index_items(self.weval_groups)
        groups = self.weval_groups
        ids = self._tokenize([groups[g].responses[r].text for g, r, _ in self.weval_items],
                             [groups[g].requirements[q].text for g, _, q in self.weval_items], path, self.weval_format,
                             list(range(len(self.weval_items))))
        types = [TYPE_NAMES.index(groups[g].requirements[q].type) for g, _, q in self.weval_items]
        owners = [groups[g].responses[r].text for g, r, _ in self.weval_items]
        rows = self.val_rows
        self.val_rows = TokenRows(rows.input_ids + ids, rows.labels + [-1] * len(ids), rows.type_ids + types,
                                  rows.items + list(range(len(ids))), rows.owners + owners)

    def packs(self) -> bool:
        """Whether batches are packed: ``packing`` if set, else what the fitted module does (its ``packs``)."""
        if self.packing is not None:
            return self.packing
        module = self.trainer.lightning_module if self.trainer is not None else None
        return bool(getattr(module, "packs", False))

    def batch_items(self, rows: TokenRows) -> TokenRows | PackedRows:
        return PackedRows.pack(rows, self.tokenizer.pad_token_id) if self.packs() else rows

    def collator(self, rows: TokenRows | PackedRows) -> Collator | PackedCollator:
        if isinstance(rows, PackedRows):
            return PackedCollator(rows, self.tokenizer.pad_token_id)
        return Collator(rows, self.tokenizer.pad_token_id)


def _rows(pairs: list[Pair], ids: dict[int, list[int]], chosen: list[int], item_of: dict[tuple[str, int, int], int]) -> TokenRows:
    """TokenRows of ``pairs[chosen]``; ``item_of`` maps (group_id, response, requirement) to a WEval item."""

    def item(pair: Pair) -> int:
        meta = pair.meta
        return item_of.get((pair.group_id, meta.get("response_index", -1), meta.get("requirement_index", -1)), -1)

    return TokenRows(
        input_ids=[ids[i] for i in chosen],
        labels=[pairs[i].label for i in chosen],
        type_ids=[TYPE_NAMES.index(pairs[i].requirement.type) for i in chosen],
        items=[item(pairs[i]) for i in chosen],
        owners=[pairs[i].response for i in chosen],
    )

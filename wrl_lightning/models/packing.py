"""Packed scoring for decoder (causal) pair RMs: every requirement of one response in one pass.

A causal RM reads ``template(response, requirement)`` left to right, and the template puts the response first,
so the rows of one response's pairs share a token prefix. The packed path feeds that prefix once and each
requirement's suffix after it: one sequence ``[prefix, suffix_1, ..., suffix_n]`` per response, where

- the tokens are exactly the one-pair rows' ids (:func:`~wrl_lightning.models.rm_inputs.encode_pairs`): the
  prefix is the longest common prefix of the response's actual rows (BPE merges across the template boundary,
  and rows whose response was cut, are handled alike) and ``suffix_j = row_j[len(prefix):]``;
- a 4D additive float mask ``(batch, 1, q, k)`` (0 where allowed, the dtype's min elsewhere) lets the prefix
  attend causally to itself and each suffix to the prefix and causally to itself only (block-diagonal among
  suffixes); pads attend only to themselves (no empty mask row) and nothing attends to a pad;
- position ids continue from the prefix for every suffix (each starts at ``len(prefix)``);
- the classifier head (``model.score`` / ``model.classifier``) is applied to the backbone's hidden state at
  each pair's read position, where the one-pair classifier reads: the row's last token that is not the pad id.

So each pair's score is what the one-pair forward gives (up to float rounding), for fewer tokens. One response
per packed sequence; sequences are length-grouped and right-padded like the one-pair rows. Attention
backends: ``eager`` and ``sdpa`` take the 4D float mask as is (transformers returns a prepared 4D mask
unchanged); others (flash attention) cannot, and packing is refused for them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import torch

from wrl_lightning.models.heads import HEADS
from wrl_lightning.models.rm_inputs import length_grouped_batches, padding_efficiency

#: Modes of the ``packing`` option.
PACKING_MODES = ("auto", "on", "off")
#: Attention backends that take a custom 4D float mask.
PACKABLE_ATTENTION = ("eager", "sdpa")
#: Bidirectional encoder families (their classes can also serve as causal LMs, so they are named here).
ENCODER_NAMES = ("bert", "roberta", "deberta", "electra", "minilm", "xlmroberta", "distilbert", "albert",
                 "modernbert", "mpnet", "camembert", "ernie", "xlnet", "longformer", "bigbird")
#: Names the classifier's linear head goes by.
HEAD_NAMES = ("score", "classifier")


def packing_mode(value: str | bool | None) -> str:
    """``auto``/``on``/``off`` from the option's value (YAML may hand over ``on``/``off`` as booleans)."""
    if value is None:
        return "auto"
    if isinstance(value, bool):
        return "on" if value else "off"
    mode = str(value).lower()
    if mode not in PACKING_MODES:
        raise ValueError(f"packing must be one of {', '.join(PACKING_MODES)}, got {value!r}")
    return mode


def classifier_head(model: torch.nn.Module) -> torch.nn.Module | None:
    """The classifier's token-wise head (``score``, else ``classifier``), or None."""
    for name in HEAD_NAMES:
        module = getattr(model, name, None)
        if isinstance(module, torch.nn.Module):
            return module
    return None


def is_decoder_classifier(model: torch.nn.Module) -> bool:
    """Whether ``model`` is a causal (decoder-only) sequence classifier."""
    config = model.config
    if getattr(config, "is_encoder_decoder", False) or not getattr(config, "is_causal", True):
        return False
    names = [type(model).__name__, str(getattr(config, "model_type", "")),
             *(getattr(config, "architectures", None) or [])]
    names = [name.lower().replace("-", "").replace("_", "") for name in names]
    if any(encoder in name for name in names for encoder in ENCODER_NAMES):
        return False
    if getattr(config, "is_decoder", False):
        return True
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    return getattr(config, "model_type", None) in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES


def packing_problem(model: torch.nn.Module, max_length: int | None = None) -> str | None:
    """Why ``model`` cannot score packed (None: it can)."""
    model = unwrap(model)
    if not is_decoder_classifier(model):
        return f"{type(model).__name__} is not a decoder (causal) classifier"
    if classifier_head(model) is None:
        return f"{type(model).__name__} has no classifier head named {' or '.join(HEAD_NAMES)}"
    if getattr(model, "base_model", model) is model:
        return f"{type(model).__name__} exposes no backbone (base_model)"
    attention = getattr(model.config, "_attn_implementation", None) or "eager"
    if attention not in PACKABLE_ATTENTION:
        return f"attention {attention!r} takes no custom 4D mask (use {' or '.join(PACKABLE_ATTENTION)})"
    window = getattr(model.config, "sliding_window", None)
    if window and getattr(model.config, "use_sliding_window", True) and (max_length is None or window < max_length):
        return f"sliding-window attention ({window} tokens) is not reproduced by the packed mask"
    return None


def resolve_packing(value: str | bool | None, model: torch.nn.Module, template: str,
                    max_length: int | None = None) -> bool:
    """Whether to score packed: ``off`` never; ``on`` always (an error if the model cannot); ``auto`` for
    decoder classifiers whose template ends with ``{requirement}`` (the shared prefix is then the whole
    response)."""
    mode = packing_mode(value)
    if mode == "off":
        return False
    problem = packing_problem(model, max_length)
    if mode == "on":
        if problem:
            raise ValueError(f"packing=on: {problem}")
        return True
    return problem is None and template.rstrip().endswith("{requirement}")


def common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest common prefix of ``rows``."""
    first, n = rows[0], min(len(row) for row in rows)
    for row in rows[1:]:
        k = 0
        while k < n and row[k] == first[k]:
            k += 1
        n = k
    return n


def read_position(row: Sequence[int], pad_id: int | None) -> int:
    """Where the one-pair classifier reads ``row``: its last token that is not ``pad_id`` (0 if none)."""
    if pad_id is None:
        return len(row) - 1
    for p in range(len(row) - 1, -1, -1):
        if row[p] != pad_id:
            return p
    return 0


@dataclass
class PackedUnit:
    """One response's packed sequence: its tokens, position ids, segment ids (0: prefix, j: suffix j) and,
    per pair, (row index, position in the sequence to read)."""

    input_ids: list[int]
    position_ids: list[int]
    segments: list[int]
    reads: list[tuple[int, int]]


def pack_rows(rows: Sequence[list[int]], owners: Sequence[Hashable], pad_id: int | None) -> list[PackedUnit]:
    """Pack the token ``rows``: rows with the same owner (the response) share one sequence."""
    by_owner: dict[Hashable, list[int]] = {}
    for i, owner in enumerate(owners):
        by_owner.setdefault(owner, []).append(i)
    units = []
    for members in by_owner.values():
        member_rows = [rows[i] for i in members]
        shared = common_prefix_length(member_rows) if len(members) > 1 else len(member_rows[0])
        input_ids, positions, segments = list(member_rows[0][:shared]), list(range(shared)), [0] * shared
        reads = []
        for j, (i, row) in enumerate(zip(members, member_rows, strict=True), 1):
            start = len(input_ids)
            suffix = row[shared:]
            input_ids.extend(suffix)
            positions.extend(range(shared, shared + len(suffix)))
            segments.extend([j] * len(suffix))
            p = read_position(row, pad_id)
            reads.append((i, p if p < shared else start + p - shared))
        units.append(PackedUnit(input_ids, positions, segments, reads))
    return units


@dataclass
class PackedBatch:
    """Right-padded packed sequences: ids, position ids, segment ids (-1: pad), and for each pair read the
    (sequence, position) to read and its row index."""

    input_ids: torch.Tensor
    position_ids: torch.Tensor
    segments: torch.Tensor
    read_rows: torch.Tensor
    read_cols: torch.Tensor
    index: torch.Tensor

    def to_dict(self) -> dict[str, torch.Tensor]:
        """The tensors by field name (a batch dict Lightning can move between devices)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, batch: Mapping[str, torch.Tensor]) -> PackedBatch:
        """The packed batch held in ``batch`` (made by :meth:`to_dict`; other keys are ignored)."""
        return cls(**{name: batch[name] for name in cls.__dataclass_fields__})


def collate_units(units: Sequence[PackedUnit], pad_id: int | None) -> PackedBatch:
    """Right-pad ``units`` into a :class:`PackedBatch`."""
    width = max(len(unit.input_ids) for unit in units)
    input_ids = torch.full((len(units), width), pad_id or 0, dtype=torch.long)
    position_ids = torch.zeros((len(units), width), dtype=torch.long)
    segments = torch.full((len(units), width), -1, dtype=torch.long)
    read_rows, read_cols, index = [], [], []
    for b, unit in enumerate(units):
        n = len(unit.input_ids)
        input_ids[b, :n] = torch.tensor(unit.input_ids, dtype=torch.long)
        position_ids[b, :n] = torch.tensor(unit.position_ids, dtype=torch.long)
        segments[b, :n] = torch.tensor(unit.segments, dtype=torch.long)
        for i, col in unit.reads:
            read_rows.append(b)
            read_cols.append(col)
            index.append(i)
    as_long = lambda values: torch.tensor(values, dtype=torch.long)  # noqa: E731
    return PackedBatch(input_ids, position_ids, segments, as_long(read_rows), as_long(read_cols), as_long(index))


def packed_mask(segments: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The 4D additive mask ``(batch, 1, q, k)`` of segment ids ``(batch, length)`` (see the module docstring)."""
    length = segments.shape[-1]
    seg_q, seg_k = segments[:, :, None], segments[:, None, :]
    causal = torch.ones(length, length, dtype=torch.bool, device=segments.device).tril()
    allowed = causal & (seg_q >= 0) & (seg_k >= 0) & ((seg_k == 0) | (seg_k == seg_q))
    allowed |= torch.eye(length, dtype=torch.bool, device=segments.device) & (seg_q < 0)
    mask = torch.zeros(allowed.shape, dtype=dtype, device=segments.device)
    return mask.masked_fill_(~allowed, torch.finfo(dtype).min)[:, None]


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers classifier inside a peft wrapper (LoRA layers stay in place), else ``model``."""
    get_base_model = getattr(model, "get_base_model", None)
    return get_base_model() if callable(get_base_model) else model


def packed_logits(model: torch.nn.Module, batch: PackedBatch) -> torch.Tensor:
    """Classifier logits (float32) of every pair read of ``batch`` (tensors on the model's device), in
    ``batch.index`` order: the backbone's hidden states at the read positions through the classifier head.
    Differentiable: RM training packs with it too."""
    classifier = unwrap(model)
    dtype = classifier.get_input_embeddings().weight.dtype
    mask = packed_mask(batch.segments, dtype if dtype.is_floating_point else torch.float32)
    outputs = classifier.base_model(input_ids=batch.input_ids, attention_mask=mask, position_ids=batch.position_ids,
                                    use_cache=False)
    hidden = outputs[0][batch.read_rows, batch.read_cols]
    return classifier_head(classifier)(hidden).float()


def packed_scores(model: torch.nn.Module, batch: PackedBatch,
                  head: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """One score per pair read of ``batch``, in ``batch.index`` order: :func:`packed_logits` through ``head``."""
    return head(packed_logits(model, batch))


def to_device(batch: PackedBatch, device: torch.device | str) -> PackedBatch:
    """``batch`` with every tensor on ``device``."""
    return PackedBatch.from_dict({name: value.to(device) for name, value in batch.to_dict().items()})


def packed_batches(units: Sequence[PackedUnit], max_batch_size: int, max_tokens: int | None) -> list[list[int]]:
    """Length-grouped batches of units (at most ``max_batch_size`` sequences, ``max_tokens`` padded tokens)."""
    return length_grouped_batches([len(unit.input_ids) for unit in units], max_batch_size, max_tokens)


def packed_stats(rows: Sequence[list[int]], units: Sequence[PackedUnit],
                 batches: Sequence[Sequence[int]]) -> dict[str, float]:
    """What one packed call did: the keys of :func:`~wrl_lightning.scoring.sequence.batch_stats` (``n_sequences``
    counts pairs, ``n_tokens`` the tokens fed) plus ``n_pair_tokens`` (tokens of the one-pair rows),
    ``n_packed_sequences`` and ``packing_ratio`` (tokens fed / one-pair tokens)."""
    lengths = [len(unit.input_ids) for unit in units]
    fed, pair_tokens = sum(lengths), sum(len(row) for row in rows)
    return {"padding_efficiency": padding_efficiency(lengths, batches), "n_batches": len(batches),
            "n_sequences": len(rows), "n_tokens": fed, "n_pair_tokens": pair_tokens,
            "n_packed_sequences": len(units), "packing_ratio": fed / pair_tokens if pair_tokens else 1.0}


def score_packed(model: torch.nn.Module, rows: Sequence[list[int]], owners: Sequence[Hashable], pad_id: int | None,
                 head: str, batch_size: int, max_tokens: int | None,
                 device: torch.device | str | None = None) -> tuple[list[float], dict[str, float]]:
    """Scores of ``rows`` (in order) through packed forwards on ``device`` (None: the model's), and the stats
    (:func:`packed_stats`). ``owners[i]`` names row ``i``'s response. Run it under ``torch.inference_mode``."""
    units = pack_rows(rows, owners, pad_id)
    batches = packed_batches(units, batch_size, max_tokens)
    device = device if device is not None else next(model.parameters()).device
    reduce = HEADS[head]
    scores = [0.0] * len(rows)
    for index in batches:
        batch = to_device(collate_units([units[k] for k in index], pad_id), device)
        for i, value in zip(batch.index.tolist(), packed_scores(model, batch, reduce).tolist(), strict=True):
            scores[i] = value
    return scores, packed_stats(rows, units, batches)


def predict_packed_scores(model: torch.nn.Module, rows: Sequence[list[int]], owners: Sequence[Hashable],
                          pad_id: int | None, head: str = "p1", batch_size: int = 64, max_tokens: int | None = None,
                          trainer_kwargs: dict | None = None) -> tuple[list[float], dict[str, float]]:
    """:func:`score_packed` through Lightning's predict loop (each rank predicts every world_size-th batch, the
    results are gathered): the packed twin of :func:`~wrl_lightning.scoring.sequence.predict_scores`."""
    import pytorch_lightning as pl

    from wrl_lightning.training.distributed import all_gather_objects
    from wrl_lightning.training.precision import resolve_precision

    units = pack_rows(rows, owners, pad_id)
    batches = packed_batches(units, batch_size, max_tokens)
    reduce = HEADS[head]

    class Module(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = model

        def predict_step(self, batch: PackedBatch, batch_idx: int):
            return batch.index, packed_scores(self.model, batch, reduce)

    class Batches(pl.LightningDataModule):
        def predict_dataloader(self):
            rank, world = self.trainer.global_rank, self.trainer.world_size
            mine = [collate_units([units[k] for k in index], pad_id) for index in batches[rank::world]]
            return torch.utils.data.DataLoader(mine, batch_size=None, collate_fn=lambda batch: batch)

        def transfer_batch_to_device(self, batch, device, dataloader_idx):
            return to_device(batch, device)

    kwargs = {"accelerator": "auto", "devices": 1, "logger": False, "enable_checkpointing": False,
              "enable_model_summary": False, "enable_progress_bar": False, "use_distributed_sampler": False,
              **(trainer_kwargs or {})}
    kwargs["precision"] = resolve_precision(kwargs.get("precision"), str(kwargs["accelerator"]))
    model.eval()
    outputs = pl.Trainer(**kwargs).predict(Module(), datamodule=Batches()) or []
    local = [(index.cpu(), values.cpu()) for index, values in outputs]
    scores = [0.0] * len(rows)
    for part in all_gather_objects(local):
        for index, values in part:
            for i, value in zip(index.tolist(), values.tolist(), strict=True):
                scores[i] = value
    return scores, packed_stats(rows, units, batches)

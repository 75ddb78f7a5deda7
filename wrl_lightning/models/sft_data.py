"""The SFT baseline's LightningDataModule: the *positive* responses of the WRL data as chat examples.

- Examples come from the RM's readers (:func:`~wrl_lightning.models.pair_sources.load_pairs`): from a group
  format (levels | canonical), each group's response that keeps every requirement (the top level) with the
  group's full prompt; from a pairs file, the responses of label-1 rows with their prompt (``positives=any``,
  or only responses no row of which is labelled 0 with ``positives=all``), each (prompt, response) once.
- The split is the RM's: :func:`~wrl_lightning.data.split.split_keys` over the group keys (group id, else
  prompt) of every pair read, so for the same ``seed`` / ``val_fraction`` / ``max_groups`` the SFT model and
  the RM hold out the same prompts, and no prompt is shared between training and validation.
- A row is ``chat(prompt) + response + EOS`` (:func:`encode_example`): the prompt through the tokenizer's chat
  template with a generation prompt (exactly what ``generator=hf`` feeds the exported model), the response
  cut at its end to fit ``max_length`` (a cut response gets no EOS: the model is not taught to stop mid-text).
- Batches are length-grouped and right-padded (the RM's batch sampler: seeded per-epoch order, sharded over
  ranks, mid-epoch resume); labels are the input ids with -100 on prompt and padding positions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from wrl_lightning.data.records import WEvalGroup
from wrl_lightning.data.split import split_keys
from wrl_lightning.errors import ConfigError
from wrl_lightning.models.chat import encode_prompt
from wrl_lightning.models.loading import load_tokenizer
from wrl_lightning.models.pair_sources import PairSet, load_pairs
from wrl_lightning.models.rm_data import CHARS_PER_TOKEN, IndexedRows, LengthGroupedDataModule, group_key
from wrl_lightning.models.rm_inputs import ensure_pad_token, pad_batch

log = logging.getLogger(__name__)

#: Label of positions that count in no loss (prompt, padding, repeated validation rows).
IGNORE = -100
#: Which responses of a pairs file are SFT targets: any label-1 row, or only all rows labelled 1.
POSITIVES = ("any", "all")


@dataclass(frozen=True)
class SFTExample:
    """One supervised example: answer ``prompt`` with ``response``; ``key`` is its split key."""

    prompt: str
    response: str
    key: str


def keeps_all(group: WEvalGroup, index: int) -> bool:
    """Whether response ``index`` of ``group`` keeps every requirement (the top level)."""
    response = group.responses[index]
    return all(response.kept) if response.kept is not None else response.n_kept == group.size


def examples_from_groups(groups: Sequence[WEvalGroup]) -> tuple[list[SFTExample], int]:
    """Each group's (non-blank, distinct) responses that keep every requirement (one per group in levels files),
    with its full prompt; also how many groups have none."""
    examples, without = [], 0
    for group in groups:
        texts = list(dict.fromkeys(r.text for i, r in enumerate(group.responses) if keeps_all(group, i) and r.text.strip()))
        without += not texts
        examples += [SFTExample(group.prompt, text, group.group_id or group.prompt) for text in texts]
    return examples, without


def examples_from_pairs(source: PairSet, positives: str = "any") -> list[SFTExample]:
    """The (prompt, response) of label-1 pairs, once each, in file order (blank responses left out); ``positives=all``
    keeps only responses with no label-0 row (a response that dropped another requirement is then not a target)."""
    labels: dict[tuple[str, str], set[int]] = {}
    keys: dict[tuple[str, str], str] = {}
    for pair in source.pairs:
        labels.setdefault((pair.prompt, pair.response), set()).add(int(pair.label))
        keys.setdefault((pair.prompt, pair.response), group_key(pair))
    wanted = (lambda seen: 1 in seen) if positives == "any" else (lambda seen: seen == {1})
    return [SFTExample(prompt, response, keys[prompt, response]) for (prompt, response), seen in labels.items()
            if wanted(seen) and response.strip()]


def encode_example(tokenizer, prompt_ids: list[int], response_ids: list[int], max_length: int) -> tuple[list[int], int] | None:
    """(``prompt_ids + response_ids + [EOS]`` cut at ``max_length``, prompt length); None when the prompt leaves
    no room for a response token. A cut response loses its EOS with its end."""
    room = max_length - len(prompt_ids)
    if room < 1:
        return None
    return prompt_ids + (response_ids + [tokenizer.eos_token_id])[:room], len(prompt_ids)


@dataclass
class SFTRows(IndexedRows):
    """Tokenized examples: ``input_ids`` and how many of their first tokens are prompt."""

    prompt_lengths: list[int]


class SFTCollator:
    """Row indices -> a right-padded batch: ``input_ids``, ``attention_mask`` and ``labels`` (the ids with
    :data:`IGNORE` on prompt and padding positions). A repeated validation row (``~row``, see
    :class:`~wrl_lightning.models.rm_data.LengthGroupedBatchSampler`) is all :data:`IGNORE`, so it counts nowhere.
    Padding is found from each row's length, never from the pad id (which may equal EOS, a trained token)."""

    def __init__(self, rows: SFTRows, pad_id: int):
        self.rows, self.pad_id = rows, pad_id

    def __call__(self, index: list[int]) -> dict[str, torch.Tensor]:
        rows = [i if i >= 0 else ~i for i in index]
        padded = pad_batch([self.rows.input_ids[i] for i in rows], rows, self.pad_id)
        labels = padded.input_ids.masked_fill(padded.attention_mask == 0, IGNORE)
        for r, (i, row) in enumerate(zip(index, rows, strict=True)):
            labels[r, : self.rows.prompt_lengths[row] if i >= 0 else labels.shape[1]] = IGNORE
        return {"input_ids": padded.input_ids, "attention_mask": padded.attention_mask, "labels": labels}


class SFTDataModule(LengthGroupedDataModule):
    """Positive responses of WRL data as (chat prompt, response) examples for supervised fine-tuning.

    Args:
        input: data file (``format`` says how to read it).
        format: a key of ``pair_sources.PAIR_SOURCES``: levels | canonical (each group's top response) or pairs.
        tokenizer: tokenizer name (hub id, folder or ``embedded:NAME``), normally the model's.
        max_length: tokens per example; the response end is cut (examples whose prompt fills it are dropped).
        batch_size / eval_batch_size: examples per training / validation batch (eval default: 2 x batch_size).
        max_tokens: optional cap on padded tokens per batch (batches then shrink for long rows).
        val_fraction: fraction of groups (prompts) held out for validation (0: no validation).
        max_groups: use only this many groups (seeded pick, the RM's), for quick runs.
        positives: pairs files only: ``any`` (responses of label-1 rows) or ``all`` (no label-0 row).
        system_prompt / use_chat_template: how prompts are wrapped, as ``generator=hf`` / rollouts do.
        num_workers: DataLoader workers.
        seed: seed of the split and the batch order.
        trust_remote_code: allow custom tokenizer code.
    """

    def __init__(self, input: str, format: str = "canonical", tokenizer: str = "embedded:tiny-qwen2",
                 max_length: int = 1024, batch_size: int = 8, eval_batch_size: int | None = None,
                 max_tokens: int | None = None, val_fraction: float = 0.1, max_groups: int | None = None,
                 positives: str = "any", system_prompt: str | None = None, use_chat_template: bool = True,
                 num_workers: int = 0, seed: int = 42, trust_remote_code: bool = False):
        super().__init__()
        if not 0 <= val_fraction < 1:
            raise ConfigError("data.val_fraction", f"must be in [0, 1), got {val_fraction}")
        if positives not in POSITIVES:
            raise ConfigError("data.positives", f"must be one of {', '.join(POSITIVES)}, got {positives!r}")
        if max_length < 2:
            raise ConfigError("data.max_length", f"must be at least 2, got {max_length}")
        self.input, self.format = Path(input), format
        self.tokenizer_name, self.trust_remote_code = tokenizer, trust_remote_code
        self.max_length, self.batch_size, self.max_tokens = max_length, batch_size, max_tokens
        self.eval_batch_size = eval_batch_size or 2 * batch_size
        self.val_fraction, self.max_groups, self.positives, self.seed = val_fraction, max_groups, positives, seed
        self.system_prompt, self.use_chat_template = system_prompt, use_chat_template
        self.num_workers = num_workers
        self.train_examples: list[SFTExample] = []
        self.val_examples: list[SFTExample] = []
        self.train_rows: SFTRows | None = None
        self.val_rows: SFTRows | None = None
        self.stats: dict[str, float] = {}
        self._tokenizer = None

    @property
    def tokenizer(self):
        """The model's tokenizer, with a pad token; it must have an EOS (the response's last token)."""
        if self._tokenizer is None:
            tokenizer = load_tokenizer(self.tokenizer_name, trust_remote_code=self.trust_remote_code)
            if tokenizer.eos_token_id is None:
                raise ConfigError("data.tokenizer", f"{self.tokenizer_name} has no EOS token to end responses with")
            ensure_pad_token(tokenizer)
            self._tokenizer = tokenizer
        return self._tokenizer

    def read(self) -> tuple[list[SFTExample], list[SFTExample], dict[str, float]]:
        """(training examples, validation examples, counts) of ``input``, split as the RM splits it."""
        source = load_pairs(self.input, self.format)
        if source.groups:
            examples, without = examples_from_groups(source.groups)
        else:
            examples, without = examples_from_pairs(source, self.positives), 0
        train_keys, val_keys = split_keys([group_key(p) for p in source.pairs], self.val_fraction, self.seed,
                                          self.max_groups)
        train = [e for e in examples if e.key in train_keys]
        val = [e for e in examples if e.key in val_keys]
        if not train:
            raise ConfigError("data.input", f"{self.input} ({self.format}) yields no positive response to train on")
        stats = {"train_groups": len(train_keys), "val_groups": len(val_keys), "groups_without_positive": without}
        return train, val, stats

    def encode(self, examples: Sequence[SFTExample]) -> tuple[SFTRows, dict[str, int]]:
        """Token rows of ``examples`` (prompts through the chat template, responses in one batched call)."""
        tokenizer = self.tokenizer
        prompts = {p: encode_prompt(tokenizer, p, self.system_prompt, self.use_chat_template)
                   for p in dict.fromkeys(e.prompt for e in examples)}
        limit = self.max_length * CHARS_PER_TOKEN
        responses = tokenizer([e.response[:limit] for e in examples], add_special_tokens=False)["input_ids"] if examples else []
        rows = SFTRows([], [])
        counts = {"dropped_long_prompt": 0, "truncated": 0}
        for example, response_ids in zip(examples, responses, strict=True):
            encoded = encode_example(tokenizer, prompts[example.prompt], response_ids, self.max_length)
            if encoded is None:
                counts["dropped_long_prompt"] += 1
                continue
            ids, n_prompt = encoded
            counts["truncated"] += len(ids) - n_prompt < len(response_ids) + 1
            rows.input_ids.append(ids)
            rows.prompt_lengths.append(n_prompt)
        return rows, counts

    def setup(self, stage: str | None = None) -> None:
        if self.train_rows is not None:
            return
        self.train_examples, self.val_examples, stats = self.read()
        self.train_rows, train_counts = self.encode(self.train_examples)
        self.val_rows, val_counts = self.encode(self.val_examples)
        if not len(self.train_rows):
            raise ConfigError("data.max_length", f"{self.max_length} tokens leave no room for any response after its prompt")
        response_tokens = sum(len(ids) - n for ids, n in zip(self.train_rows.input_ids, self.train_rows.prompt_lengths, strict=True))
        self.stats = {"train_examples": len(self.train_rows), "val_examples": len(self.val_rows), **stats,
                      **{k: train_counts[k] + val_counts[k] for k in train_counts},
                      "train_response_tokens": response_tokens}
        log.info("SFT data: %s", ", ".join(f"{k}={v}" for k, v in self.stats.items()))

    def collator(self, rows: SFTRows) -> SFTCollator:
        return SFTCollator(rows, self.tokenizer.pad_token_id)

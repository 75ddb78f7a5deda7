"""Token inputs for a (response, requirement) classifier, shared by RM training and RM scoring.

- Each text is tokenized once, in one batched call of the fast tokenizer.
- Truncation keeps the whole requirement and cuts the *response* (the paper's server cut the end, i.e.
  the requirement); the cut is found from the response's character offsets, then re-tokenized exactly.
- Batches are formed by length under a token budget, so padding stays small.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import torch

log = logging.getLogger(__name__)


def ensure_pad_token(tokenizer) -> None:
    """Give tokenizers without a pad token one (EOS, else UNK) so batches can be padded."""
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token


def encode_pairs(
    tokenizer, template: str, responses: Sequence[str], requirements: Sequence[str], max_length: int
) -> list[list[int]]:
    """Input ids of ``template`` filled with each (response, requirement), at most ``max_length`` long."""
    texts = [template.format(response=resp, requirement=req) for resp, req in zip(responses, requirements, strict=True)]
    ids = tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
    too_long = [i for i, row in enumerate(ids) if len(row) > max_length]
    if too_long:
        offsets = _response_offsets(tokenizer, sorted({responses[i] for i in too_long}))
        for i in too_long:
            ids[i] = _truncate_response(tokenizer, template, responses[i], requirements[i], max_length, len(ids[i]), offsets[responses[i]])
    return ids


def _response_offsets(tokenizer, responses: list[str]) -> dict[str, list[tuple[int, int]]]:
    """Character offsets of each response's tokens (one batched call)."""
    encoded = tokenizer(responses, add_special_tokens=False, return_offsets_mapping=True)
    return dict(zip(responses, encoded["offset_mapping"], strict=True))


def _truncate_response(tokenizer, template, response, requirement, max_length, full_length, offsets) -> list[int]:
    """Cut the response at a token boundary until the filled template fits ``max_length``."""
    keep = len(offsets) - (full_length - max_length)
    while keep > 0:
        cut = offsets[keep - 1][1]
        ids = tokenizer(template.format(response=response[:cut], requirement=requirement), add_special_tokens=True)["input_ids"]
        if len(ids) <= max_length:
            return ids
        keep -= max(1, len(ids) - max_length)
    log.warning("requirement alone exceeds max_length=%d; cutting its end: %.60s", max_length, requirement)
    ids = tokenizer(template.format(response="", requirement=requirement), add_special_tokens=True)["input_ids"]
    return ids[: max_length - 1] + ids[-1:]


def length_grouped_batches(lengths: Sequence[int], max_batch_size: int, max_tokens: int | None = None,
                           sizes: Sequence[int] | None = None) -> list[list[int]]:
    """Index batches of similar length (longest first): at most ``max_batch_size`` rows and, if given,
    at most ``max_tokens`` padded tokens per batch. With ``sizes`` (what each item counts for, e.g. the pairs
    of a packed sequence), a batch holds at most ``max_batch_size`` of that count (an item over it goes alone)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    count = 0
    for index in order:
        size = sizes[index] if sizes is not None else 1
        width = lengths[current[0]] if current else lengths[index]  # longest row of the batch comes first
        full = count + size > max_batch_size or (max_tokens is not None and (len(current) + 1) * width > max_tokens)
        if current and full:
            batches.append(current)
            current, count = [], 0
        current.append(index)
        count += size
    if current:
        batches.append(current)
    return batches


def padding_efficiency(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Real tokens / padded tokens over ``batches`` (1.0 = no padding)."""
    real = sum(lengths[i] for batch in batches for i in batch)
    padded = sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)
    return real / padded if padded else 1.0


@dataclass
class PaddedBatch:
    """A right-padded batch of token ids."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    index: torch.Tensor


def pad_batch(rows: Sequence[list[int]], index: Sequence[int], pad_id: int) -> PaddedBatch:
    """Right-pad ``rows`` into tensors; ``index`` says which item each row is."""
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        input_ids[r, : len(row)] = torch.tensor(row, dtype=torch.long)
        attention_mask[r, : len(row)] = 1
    return PaddedBatch(input_ids, attention_mask, torch.tensor(list(index), dtype=torch.long))

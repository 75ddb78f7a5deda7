"""From prompts to WEval groups: one generation request per (prompt, keep-mask), one group per prompt."""

from __future__ import annotations

import random

from wrl_lightning.data.records import Response, WEvalGroup
from wrl_lightning.generation.base import GenerationRequest, Generator
from wrl_lightning.pairs.strategies import STRATEGIES, Mask, mask_key
from wrl_lightning.requirements.prompts import PromptRecord


def plan_masks(records: list[PromptRecord], strategy: str, seed: int, subsets: int) -> dict[str, list[Mask]]:
    """Prompt id -> distinct keep-masks from ``strategy`` (a key of :data:`STRATEGIES`), seeded per run."""
    rng = random.Random(seed)
    plans = {}
    for record in records:
        masks = STRATEGIES[strategy](len(record.requirements), rng=rng, subsets=subsets)
        plans[record.id] = list(dict.fromkeys(masks))
    return plans


def request_for(record: PromptRecord, mask: Mask) -> GenerationRequest:
    """The request answering ``record`` with the requirements flagged in ``mask`` (the others dropped)."""
    return GenerationRequest(
        prompt=record.full_prompt(list(mask)),
        request_id=f"{record.id}:{mask_key(mask)}",
        requirements=[r for r, kept in zip(record.requirements, mask, strict=True) if kept],
        dropped=[r for r, kept in zip(record.requirements, mask, strict=True) if not kept],
    )


def group_for(record: PromptRecord, masks: list[Mask], texts: list[str]) -> WEvalGroup:
    """A WEval group of ``record``'s responses; gold is the number of requirements each response was asked to keep."""
    return WEvalGroup(
        group_id=record.id,
        prompt=record.full_prompt(),
        requirements=record.requirements,
        responses=[
            Response(text=text, n_kept=sum(mask), kept=list(mask), meta={"request_id": f"{record.id}:{mask_key(mask)}"})
            for mask, text in zip(masks, texts, strict=True)
        ],
        category=record.category,
    )


def generate_groups(records: list[PromptRecord], plans: dict[str, list[Mask]], generator: Generator) -> list[WEvalGroup]:
    """Answer every (prompt, mask) in one generator call, then group the responses by prompt."""
    requests = [request_for(record, mask) for record in records for mask in plans[record.id]]
    texts = iter(generator.generate(requests))
    return [group_for(record, plans[record.id], [next(texts) for _ in plans[record.id]]) for record in records]

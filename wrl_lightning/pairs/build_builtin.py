"""Rebuild the embedded writing prompts and WEval groups: ``python -m wrl_lightning.pairs.build_builtin``.

``prompts.jsonl`` holds the hand-written prompts (ids ``builtin-NN``, kept as they are) followed by
prompts composed from the phrase bank of :mod:`~wrl_lightning.pairs.builtin_bank` (ids
``builtin-<category>-NNN``, the same number per task category). For each prompt with ``c`` requirements
the ``edit`` generator writes ``c`` responses (the pairs stage's ``levels`` requests); response ``k`` keeps
the first ``k`` requirements and drops the others, so its gold is ``k``. A composed prompt whose checked labels cannot all be made true is drawn
again; a hand-written one is left out of the groups (and listed). Groups are interleaved by category and
written to ``weval_demo.jsonl``. Everything is seeded: the same arguments give the same bytes.
"""

from __future__ import annotations

import argparse
import itertools
import random
from pathlib import Path

from wrl_lightning.data.records import Response, WEvalGroup, Where
from wrl_lightning.data.taxonomy import CATEGORIES
from wrl_lightning.generation.edit import EditGenerator
from wrl_lightning.pairs.build import request_for
from wrl_lightning.pairs.builtin_bank import BANK, compose
from wrl_lightning.requirements.prompts import PromptRecord, load_builtin_prompts, prompt_from_row
from wrl_lightning.utils.files import write_jsonl
from wrl_lightning.utils.resolvers import BUILTIN_DIR

#: Composed prompts per task category, and draws allowed per prompt before giving up.
PER_CATEGORY = 40
MAX_DRAWS = 20
#: Seed of the composition and of the edit generator: the config's default ``seed``, so the pairs stage
#: (``generator=edit``, ``pairs.strategy=levels``) writes the shipped responses again.
SEED = 42
#: Layouts tried per response while building (a draw that needs more is replaced by the next draw).
MAX_CANDIDATES = 80


def build_group(record: PromptRecord, generator: EditGenerator) -> WEvalGroup | None:
    """The prefix-level group of one prompt, or ``None`` when some checked label cannot be made true.

    Requests are those of the pairs stage's ``levels`` strategy, so with the same seed it writes these very
    responses; level 0 (every requirement dropped) is written and checked too, but not stored.
    """
    c = len(record.requirements)
    masks = [tuple(i < k for i in range(c)) for k in range(c + 1)]
    results = [generator.write(request_for(record, mask)) for mask in masks]
    if not all(result.exact for result in results):
        return None
    responses = [Response(text=result.text, n_kept=k, kept=list(mask), meta={"source": "edit", "level": k})
                 for k, (mask, result) in enumerate(zip(masks, results, strict=True)) if k]
    return WEvalGroup(group_id=record.id, prompt=record.full_prompt(), requirements=record.requirements,
                      responses=responses, category=record.category)


def round_robin(groups: list[WEvalGroup]) -> list[WEvalGroup]:
    """Groups interleaved by category (file order within a category), so any prefix mixes categories."""
    by_category: dict[str, list[WEvalGroup]] = {}
    for group in groups:
        by_category.setdefault(group.category, []).append(group)
    columns = itertools.zip_longest(*by_category.values())
    return [group for column in columns for group in column if group is not None]


def composed(category: str, index: int, generator: EditGenerator, seed: int) -> tuple[dict, WEvalGroup]:
    """The first draw of prompt ``index`` of ``category`` whose every checked label comes out right."""
    prompt_id = f"builtin-{category}-{index:03d}"
    for draw in range(MAX_DRAWS):
        row = compose(random.Random(f"{seed}:{prompt_id}:{draw}"), category, prompt_id)
        group = build_group(prompt_from_row(row, Where("builtin_bank", index)), generator)
        if group is not None:
            return row, group
    raise RuntimeError(f"{prompt_id}: no draw of {MAX_DRAWS} could be written with true labels")


def build(per_category: int = PER_CATEGORY, seed: int = SEED) -> tuple[list[dict], list[WEvalGroup], list[str]]:
    """Prompt rows (hand-written, then composed), their groups interleaved by category, skipped ids."""
    generator = EditGenerator(seed=seed, max_candidates=MAX_CANDIDATES)
    rows, groups, skipped = [], [], []
    for record in load_builtin_prompts():
        if record.id.count("-") > 1:  # a composed prompt: drawn again below
            continue
        rows.append({"id": record.id, "category": record.category, "prompt": record.prompt,
                     "requirements": [r.to_dict() for r in record.requirements]})
        group = build_group(record, generator)
        (groups.append(group) if group else skipped.append(record.id))
    for category in (name for name in CATEGORIES if name in BANK):
        for index in range(1, per_category + 1):
            row, group = composed(category, index, generator, seed)
            rows.append(row)
            groups.append(group)
    return rows, round_robin(groups), skipped


def write(folder: Path, per_category: int = PER_CATEGORY, seed: int = SEED) -> tuple[int, int, list[str]]:
    """Write ``prompts.jsonl`` and ``weval_demo.jsonl`` into ``folder``; counts of prompts and groups, skipped ids."""
    rows, groups, skipped = build(per_category, seed)
    write_jsonl(folder / "prompts.jsonl", rows)
    write_jsonl(folder / "weval_demo.jsonl", (group.to_dict() for group in groups))
    return len(rows), len(groups), skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-category", type=int, default=PER_CATEGORY, help="composed prompts per task category")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the composition and of the edit generator")
    parser.add_argument("--out", type=Path, default=BUILTIN_DIR, help="folder to write (default: the package's)")
    args = parser.parse_args()
    prompts, groups, skipped = write(args.out, args.per_category, args.seed)
    print(f"{args.out}: {prompts} prompts, {groups} groups; skipped: {', '.join(skipped) or 'none'}")


if __name__ == "__main__":
    main()

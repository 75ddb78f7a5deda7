"""Rebuild the embedded WEval demo groups: ``python -m wrl_lightning.pairs.build_builtin [--groups N]``.

For each embedded prompt with ``c`` requirements, the ``edit`` generator writes ``c`` responses; response
``k`` keeps the first ``k`` requirements and breaks the others, so its gold is ``k``. Every label is checked
with the requirement checkers; prompts whose labels cannot all be made true are skipped (and listed).
Prompts are taken round-robin over categories.
The result is deterministic and written to ``data/builtin/weval_demo.jsonl``.
"""

from __future__ import annotations

import argparse
import itertools

from wrl_lightning.data.records import Response, WEvalGroup
from wrl_lightning.generation.edit import EditGenerator, as_request
from wrl_lightning.requirements.prompts import PromptRecord, load_builtin_prompts
from wrl_lightning.utils.files import write_jsonl
from wrl_lightning.utils.resolvers import BUILTIN_DIR


def build_group(record: PromptRecord, generator: EditGenerator) -> WEvalGroup | None:
    """The prefix-level group of one prompt, or ``None`` when some label cannot be made true."""
    c = len(record.requirements)
    responses = []
    for k in range(1, c + 1):
        kept = [i < k for i in range(c)]
        request = as_request(record.full_prompt(kept), record.requirements, kept, f"{record.id}-k{k}")
        result = generator.write(request)
        if not result.exact:
            return None
        responses.append(Response(text=result.text, n_kept=k, kept=kept, meta={"source": "edit", "level": k}))
    return WEvalGroup(group_id=record.id, prompt=record.full_prompt(), requirements=record.requirements,
                      responses=responses, category=record.category)


def round_robin(records: list[PromptRecord]) -> list[PromptRecord]:
    """Records interleaved by category (file order within a category), so any prefix mixes categories."""
    by_category: dict[str, list[PromptRecord]] = {}
    for record in records:
        by_category.setdefault(record.category, []).append(record)
    columns = itertools.zip_longest(*by_category.values())
    return [record for column in columns for record in column if record is not None]


def build(n_groups: int, seed: int = 0) -> tuple[list[WEvalGroup], list[str]]:
    """Up to ``n_groups`` groups, categories interleaved, and the ids of the prompts skipped."""
    generator = EditGenerator(seed=seed)
    groups, skipped = [], []
    for record in round_robin(load_builtin_prompts()):
        if len(groups) == n_groups:
            break
        group = build_group(record, generator)
        if group is None:
            skipped.append(record.id)
        else:
            groups.append(group)
    return groups, skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=30, help="number of groups to write")
    parser.add_argument("--seed", type=int, default=0, help="base seed of the edit generator")
    args = parser.parse_args()
    groups, skipped = build(args.groups, args.seed)
    path = write_jsonl(BUILTIN_DIR / "weval_demo.jsonl", (group.to_dict() for group in groups))
    sizes = sorted({group.size for group in groups})
    print(f"{path}: {len(groups)} groups (sizes {sizes}); skipped: {', '.join(skipped) or 'none'}")


if __name__ == "__main__":
    main()

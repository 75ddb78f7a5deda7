"""Cut WEval groups (responses with ``kept`` flags) into labelled pairs, behind a registry of selectors.

A selector picks ``(response_index, requirement_index)`` cells of a group:

- ``contrast``: per requirement, the two responses that differ on it and are otherwise most alike (fewest
  other flags differing): one positive, one negative. For ``levels`` these are the level-k and level-(k-1)
  responses, for ``drop_one`` the full response and the one without requirement k.
- ``all``: every response against every requirement it is scored on.
"""

from __future__ import annotations

from collections.abc import Callable

from wrl_lightning.data.records import Pair, WEvalGroup
from wrl_lightning.models.pair_sources import pairs_from_groups
from wrl_lightning.utils.registry import registrar

Cell = tuple[int, int]
Selector = Callable[[WEvalGroup], list[Cell]]
SELECTORS: dict[str, Selector] = {}


register_selector = registrar(SELECTORS)


@register_selector("all")
def all_cells(group: WEvalGroup) -> list[Cell]:
    """Every (response, requirement) cell."""
    return [(r, q) for r in range(len(group.responses)) for q in group.requirement_indices(r)]


@register_selector("contrast")
def contrast_cells(group: WEvalGroup) -> list[Cell]:
    """Per requirement, the closest (keeping, dropping) pair of responses."""
    kept = [response.kept or [] for response in group.responses]
    cells = []
    for q in range(group.size):
        scored = [r for r in range(len(kept)) if q in group.requirement_indices(r)]
        keeping = [r for r in scored if kept[r][q]]
        dropping = [r for r in scored if not kept[r][q]]
        if keeping and dropping:
            positive, negative = min(
                ((a, b) for a in keeping for b in dropping), key=lambda ab: _differences(kept[ab[0]], kept[ab[1]])
            )
            cells += [(positive, q), (negative, q)]
    return cells


def _differences(a: list[bool], b: list[bool]) -> int:
    return sum(x != y for x, y in zip(a, b, strict=True))


def select_pairs(groups: list[WEvalGroup], selector: str, source: str) -> list[Pair]:
    """The pairs of ``groups`` chosen by ``selector`` (a key of :data:`SELECTORS`), in group order."""
    chosen = {(group.group_id, *cell) for group in groups for cell in SELECTORS[selector](group)}
    return [
        pair
        for pair in pairs_from_groups(groups, source)
        if (pair.group_id, pair.meta["response_index"], pair.meta["requirement_index"]) in chosen
    ]

"""Readers of RM training pairs, behind a registry keyed by ``data.format``.

- ``pairs``: Pair records, one per row (JSONL or parquet), as the pairs stage writes them.
- ``levels``: the 5-level writing file; requirement k is kept by the responses of level >= k and dropped by
  the others, so a 5-level group gives 25 labelled pairs.
- ``canonical``: WEval groups whose responses carry ``kept`` flags; one pair per (response, requirement).

Group formats also return their groups, so held-out groups can serve as WEval validation groups.
Requirement types missing from the data are inferred from their wording.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from wrl_lightning.data.io import iter_rows
from wrl_lightning.data.records import Pair, WEvalGroup, Where, pair_from_row
from wrl_lightning.data.taxonomy import infer_requirement_type
from wrl_lightning.errors import ConfigError, RecordError
from wrl_lightning.utils.registry import registrar
from wrl_lightning.weval.importers import load_groups


@dataclass
class PairSet:
    """Labelled pairs, and the WEval groups they were cut from (group formats only)."""

    pairs: list[Pair]
    groups: list[WEvalGroup] = field(default_factory=list)


PairReader = Callable[[Path], PairSet]
PAIR_SOURCES: dict[str, PairReader] = {}


register_pair_source = registrar(PAIR_SOURCES)


def load_pairs(path: str | Path, fmt: str) -> PairSet:
    """Read labelled pairs from ``path`` in format ``fmt`` (a key of :data:`PAIR_SOURCES`)."""
    if fmt not in PAIR_SOURCES:
        raise ConfigError("data.format", f"unknown format {fmt!r} (known: {', '.join(sorted(PAIR_SOURCES))})")
    result = PAIR_SOURCES[fmt](Path(path))
    if not result.pairs:
        raise RecordError(str(path), None, "file", "holds no pair")
    for pair in result.pairs:
        if pair.requirement.type == "unknown":
            pair.requirement.type = infer_requirement_type(pair.requirement.text)
    return result


@register_pair_source("pairs")
def read_pair_records(path: Path) -> PairSet:
    """One Pair record per row."""
    return PairSet([pair_from_row(row, Where(str(path), line)) for line, row in iter_rows(path)])


def pairs_from_groups(groups: list[WEvalGroup], source: str) -> list[Pair]:
    """One pair per (response, requirement it is scored on), labelled by the response's ``kept`` flags.

    ``meta`` records ``response_index`` and ``requirement_index`` within the group.
    """
    pairs = []
    for group in groups:
        for r, response in enumerate(group.responses):
            if response.kept is None:
                where = group.where
                raise RecordError(where.source if where else source, where.line if where else None, "responses",
                                  f"group {group.group_id!r}: response {r} has no 'kept' flags, so its pairs have no label")
            for q in group.requirement_indices(r):
                pairs.append(Pair(
                    prompt=group.prompt,
                    response=response.text,
                    requirement=group.requirements[q],
                    label=int(response.kept[q]),
                    group_id=group.group_id,
                    source=source,
                    category=group.category,
                    meta={"response_index": r, "requirement_index": q},
                ))
    return pairs


@register_pair_source("levels")
def read_levels(path: Path) -> PairSet:
    """5-level writing groups: 25 pairs per 5-level group."""
    groups = load_groups(path, "levels")
    return PairSet(pairs_from_groups(groups, "levels"), groups)


@register_pair_source("canonical")
def read_canonical_groups(path: Path) -> PairSet:
    """Canonical WEval groups with ``kept`` flags."""
    groups = load_groups(path, "canonical")
    return PairSet(pairs_from_groups(groups, "canonical"), groups)

"""Readers for the WEval group files a user has, behind a registry keyed by ``weval.format``.

- ``canonical``: one group per line (:meth:`WEvalGroup.to_dict`).
- ``reference``: the paper's released format — ``group_size`` consecutive rows per group, each with
  ``prompt``, ``chosen`` (the response), ``constraint`` (requirements it is scored against),
  ``instruction_id_list`` (the requirements it kept; gold = its length) and an optional ``score``.
  Without an explicit size, it is inferred like the original scripts from an ``Nc`` in the file name.
- ``levels``: the 5-level writing format: rows ``group_id, full_prompt, level, requirements, n_kept,
  response``; the level-k response keeps the first k requirements.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from itertools import groupby
from pathlib import Path
from typing import Any

from wrl_lightning.data.io import iter_rows
from wrl_lightning.data.records import (
    Requirement,
    Response,
    WEvalGroup,
    Where,
    check_category,
    group_from_row,
    parse_score,
    requirement_from_obj,
)
from wrl_lightning.data.taxonomy import infer_category, infer_requirement_type
from wrl_lightning.errors import ConfigError, RecordError
from wrl_lightning.utils.registry import registrar

log = logging.getLogger(__name__)

Importer = Callable[..., list[WEvalGroup]]
IMPORTERS: dict[str, Importer] = {}


register_importer = registrar(IMPORTERS)


def load_groups(path: str | Path, fmt: str, key: str = "weval.format", **options: Any) -> list[WEvalGroup]:
    """Read WEval groups from ``path`` in format ``fmt`` (a key of :data:`IMPORTERS`); ``key`` is the config
    key the user set ``fmt`` with, named in errors."""
    if fmt not in IMPORTERS:
        raise ConfigError(key, f"unknown format {fmt!r} (known: {', '.join(sorted(IMPORTERS))})")
    groups = IMPORTERS[fmt](Path(path), **options)
    if not groups:
        raise RecordError(str(path), None, "file", "holds no complete group")
    seen: dict[str, Where | None] = {}
    for group in groups:
        if group.group_id in seen:
            raise RecordError(str(path), group.where.line if group.where else None, "group_id", f"duplicate {group.group_id!r}")
        seen[group.group_id] = group.where
    return groups


def _fill_types(groups: list[WEvalGroup]) -> list[WEvalGroup]:
    """Give untyped requirements a type inferred from their wording."""
    for group in groups:
        for requirement in group.requirements:
            if requirement.type == "unknown":
                requirement.type = infer_requirement_type(requirement.text)
    return groups


@register_importer("canonical")
def load_canonical(path: Path, infer_types: bool = True, **_: Any) -> list[WEvalGroup]:
    """One canonical group per row."""
    groups = []
    for line, row in iter_rows(path):
        group = group_from_row(row, Where(str(path), line))
        if group.category == "unknown" and infer_types:
            group.category = infer_category(group.prompt)
        groups.append(group)
    return _fill_types(groups) if infer_types else groups


def infer_group_size(path: Path) -> int | None:
    """``Nc`` in the file name (``eval_4c.jsonl`` -> 4), as the paper's scripts do; None if absent."""
    match = re.search(r"(\d+)c", path.name)
    return int(match.group(1)) if match else None


@register_importer("reference")
def load_reference(path: Path, group_size: int | None = None, infer_types: bool = True, **_: Any) -> list[WEvalGroup]:
    """The paper's position-grouped rows (``group_size`` consecutive rows form one group)."""
    size = group_size or infer_group_size(path)
    if size is None:
        raise ConfigError(
            "weval.group_size", f"cannot infer the group size of {path.name} (no 'Nc' in its name); set it"
        )
    if size < 2:
        raise ConfigError("weval.group_size", f"must be at least 2, got {size}")
    rows = list(iter_rows(path))
    groups = []
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        if len(chunk) < size:
            log.warning("%s: %d trailing row(s) do not fill a group of %d; dropped like the original", path, len(chunk), size)
            break
        groups.append(_reference_group(path, chunk, start // size))
    return _fill_types(groups) if infer_types else groups


def _reference_group(path: Path, chunk: list[tuple[int, dict[str, Any]]], index: int) -> WEvalGroup:
    """Build one group from ``group_size`` consecutive reference rows."""
    texts: list[str] = []
    responses = []
    for line, row in chunk:
        where = Where(str(path), line)
        chosen = row.get("chosen")
        if not isinstance(chosen, str):
            raise where.error("chosen", "missing or not a string")
        constraints = row.get("constraint")
        if not isinstance(constraints, list) or not constraints or not all(isinstance(c, str) for c in constraints):
            raise where.error("constraint", "expected a non-empty list of requirement strings")
        kept_ids = row.get("instruction_id_list")
        if not isinstance(kept_ids, list):
            raise where.error("instruction_id_list", "missing or not a list")
        if not isinstance(row.get("prompt"), str):
            raise where.error("prompt", "missing or not a string")
        for text in constraints:
            if text not in texts:
                texts.append(text)
        score = row.get("score")
        responses.append(
            Response(
                text=chosen,
                n_kept=len(kept_ids),
                score=None if score is None else parse_score(score, where, "score"),
                scored_on=[texts.index(text) for text in constraints],
                meta={"line": line, "instruction_id_list": kept_ids},
            )
        )
    first_line, first = chunk[0]
    for response in responses:
        if response.scored_on == list(range(len(texts))):
            response.scored_on = None
    prompt = max((row["prompt"] for _, row in chunk), key=len)  # the full prompt is the longest one
    return WEvalGroup(
        group_id=str(first.get("group_id", f"{path.stem}:{index}")),
        prompt=prompt,
        requirements=[Requirement(text=text) for text in texts],
        responses=responses,
        category=check_category(first.get("category"), Where(str(path), first_line)) if first.get("category") else infer_category(prompt),
        where=Where(str(path), first_line),
    )


@register_importer("levels")
def load_levels(path: Path, infer_types: bool = True, **_: Any) -> list[WEvalGroup]:
    """5-level (or c-level) writing groups; level-k responses keep the first k requirements."""
    rows = []
    for line, row in iter_rows(path):
        where = Where(str(path), line)
        for key in ("group_id", "level", "requirements", "response"):
            if key not in row:
                raise where.error(key, "missing")
        if isinstance(row["level"], bool) or not isinstance(row["level"], int):
            raise where.error("level", f"expected an integer, got {row['level']!r}")
        rows.append((where, row))
    groups = []
    for group_id, members in groupby(sorted(rows, key=lambda item: str(item[1]["group_id"])), key=lambda item: str(item[1]["group_id"])):
        members = sorted(members, key=lambda item: item[1]["level"])
        where, first = members[0]
        if not isinstance(first["requirements"], list) or not first["requirements"]:
            raise where.error("requirements", f"expected a non-empty list, got {type(first['requirements']).__name__}")
        requirements = [requirement_from_obj(obj, where, f"requirements[{i}]") for i, obj in enumerate(first["requirements"])]
        size = len(requirements)
        responses = []
        for member_where, row in members:
            level = row["level"]
            if not 0 <= level <= size:
                raise member_where.error("level", f"{level} is outside [0, {size}] for {size} requirements")
            if not isinstance(row["response"], str):
                raise member_where.error("response", "not a string")
            if "n_kept" in row and row["n_kept"] != level:
                raise member_where.error("n_kept", f"{row['n_kept']} disagrees with level {level}")
            responses.append(
                Response(text=row["response"], n_kept=level, kept=[k < level for k in range(size)], meta={"level": level, "line": member_where.line})
            )
        levels = [response.n_kept for response in responses]
        if len(set(levels)) != len(levels):
            raise where.error("level", f"group {group_id!r} repeats a level: {levels}")
        if len(responses) < 2:
            raise where.error("group_id", f"group {group_id!r} has fewer than 2 levels")
        prompt = first.get("full_prompt") or first.get("prompt") or first.get("seed_prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise where.error("full_prompt", "missing or empty")
        category = first.get("category")
        groups.append(
            WEvalGroup(
                group_id=group_id,
                prompt=prompt,
                requirements=requirements,
                responses=responses,
                category=check_category(category, where) if category else infer_category(first.get("seed_prompt") or prompt),
                where=where,
            )
        )
    return _fill_types(groups) if infer_types else groups

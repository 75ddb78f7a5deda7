"""Typed records — the contracts between stages — and their validation.

Each ``*_from_row`` parser turns one decoded row into a record or raises
:class:`~wrl_lightning.errors.RecordError` naming ``file:line: field: problem``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from wrl_lightning.data.taxonomy import CATEGORIES, REQUIREMENT_TYPES
from wrl_lightning.errors import RecordError


@dataclass
class Where:
    """Location of a row, for error messages."""

    source: str
    line: int | None

    def error(self, field_name: str, problem: str) -> RecordError:
        return RecordError(self.source, self.line, field_name, problem)


@dataclass
class Requirement:
    """One requirement of a writing prompt; ``checker``/``kwargs`` make it verifiable by rule."""

    text: str
    type: str = "unknown"
    checker: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"text": self.text, "type": self.type}
        if self.checker:
            row.update(checker=self.checker, kwargs=self.kwargs)
        return row


@dataclass
class Response:
    """A response in a WEval group; gold is ``n_kept`` (how many of the group's requirements it kept).

    ``kept`` (one flag per group requirement) is known for most sources and enables per-requirement
    breakdowns. ``score`` is a precomputed score carried by the input file, if any. ``scored_on`` lists the
    group requirements this response is scored against (``None``: all of them).
    """

    text: str
    n_kept: int
    kept: list[bool] | None = None
    score: float | None = None
    scored_on: list[int] | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class WEvalGroup:
    """Responses to one writing prompt whose requirements were dropped one at a time (a ``c``c group)."""

    group_id: str
    prompt: str
    requirements: list[Requirement]
    responses: list[Response]
    category: str = "unknown"
    where: Where | None = None

    @property
    def size(self) -> int:
        """The ``c`` of "3c/4c/5c": the number of requirements."""
        return len(self.requirements)

    @property
    def gold(self) -> list[int]:
        """Gold quality per response: more requirements kept is better."""
        return [response.n_kept for response in self.responses]

    def requirement_indices(self, response_index: int) -> list[int]:
        """Indices of the requirements response ``response_index`` is scored against."""
        chosen = self.responses[response_index].scored_on
        return list(range(self.size)) if chosen is None else chosen

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSONL form (what :func:`group_from_row` reads back)."""
        responses = []
        for response in self.responses:
            row: dict[str, Any] = {"text": response.text, "n_kept": response.n_kept}
            if response.kept is not None:
                row["kept"] = response.kept
            if response.score is not None:
                row["score"] = response.score
            if response.scored_on is not None:
                row["scored_on"] = response.scored_on
            if response.meta:
                row["meta"] = response.meta
            responses.append(row)
        return {
            "group_id": self.group_id,
            "prompt": self.prompt,
            "category": self.category,
            "requirements": [requirement.to_dict() for requirement in self.requirements],
            "responses": responses,
        }


@dataclass
class Pair:
    """One RM training example: does ``response`` keep ``requirement``? (label 1 kept / 0 dropped)."""

    prompt: str
    response: str
    requirement: Requirement
    label: int
    group_id: str
    source: str = "unknown"
    category: str = "unknown"
    verified: bool | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        row = asdict(self)
        row["requirement"] = self.requirement.to_dict()
        return row


# ----------------------------------------------------------------------------------------------- parsers
def _text(row: dict[str, Any], key: str, where: Where, *, allow_empty: bool = False) -> str:
    value = row.get(key)
    if value is None:
        raise where.error(key, "missing")
    if not isinstance(value, str):
        raise where.error(key, f"expected a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise where.error(key, "empty")
    return value


def check_category(value: Any, where: Where, key: str = "category") -> str:
    """Validate a task category name."""
    if value is None:
        return "unknown"
    if value not in CATEGORIES:
        raise where.error(key, f"unknown category {value!r} (known: {', '.join(CATEGORIES)})")
    return value


def requirement_from_obj(obj: Any, where: Where, key: str) -> Requirement:
    """A requirement from a plain string or a ``{text, type, checker, kwargs}`` object."""
    if isinstance(obj, str):
        if not obj.strip():
            raise where.error(key, "empty requirement")
        return Requirement(text=obj)
    if not isinstance(obj, dict):
        raise where.error(key, f"expected a string or an object, got {type(obj).__name__}")
    text = _text(obj, "text", Where(where.source, where.line))
    req_type = obj.get("type") or "unknown"
    if req_type not in REQUIREMENT_TYPES:
        raise where.error(f"{key}.type", f"unknown requirement type {req_type!r} (known: {', '.join(REQUIREMENT_TYPES)})")
    kwargs = obj.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise where.error(f"{key}.kwargs", f"expected an object, got {type(kwargs).__name__}")
    checker = obj.get("checker")
    if checker is not None and not isinstance(checker, str):
        raise where.error(f"{key}.checker", "expected a checker id string")
    return Requirement(text=text, type=req_type, checker=checker, kwargs=kwargs)


def parse_meta(value: Any, where: Where, key: str) -> dict[str, Any]:
    """An optional ``meta`` object (absent or null: empty)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise where.error(key, f"expected an object, got {type(value).__name__}")
    return value


def parse_score(value: Any, where: Where, key: str) -> float:
    """A finite number (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise where.error(key, f"expected a finite number, got {value!r}")
    return float(value)


def _response_from_obj(obj: Any, where: Where, key: str, n_requirements: int) -> Response:
    if isinstance(obj, str) or not isinstance(obj, dict):
        raise where.error(key, "expected an object with 'text' and 'kept' or 'n_kept'")
    text = obj.get("text")
    if not isinstance(text, str):
        raise where.error(f"{key}.text", "missing or not a string")
    kept = obj.get("kept")
    if kept is not None:
        if not isinstance(kept, list) or not all(isinstance(flag, bool) for flag in kept):
            raise where.error(f"{key}.kept", "expected a list of booleans")
        if len(kept) != n_requirements:
            raise where.error(f"{key}.kept", f"has {len(kept)} flags for {n_requirements} requirements")
    n_kept = obj.get("n_kept", sum(kept) if kept is not None else None)
    if n_kept is None:
        raise where.error(key, "needs 'kept' (one flag per requirement) or 'n_kept'")
    if isinstance(n_kept, bool) or not isinstance(n_kept, int) or not 0 <= n_kept <= n_requirements:
        raise where.error(f"{key}.n_kept", f"expected an integer in [0, {n_requirements}], got {n_kept!r}")
    if kept is not None and n_kept != sum(kept):
        raise where.error(f"{key}.n_kept", f"{n_kept} disagrees with 'kept' ({sum(kept)} true)")
    score = obj.get("score")
    scored_on = obj.get("scored_on")
    if scored_on is not None and (
        not isinstance(scored_on, list) or not all(isinstance(i, int) and 0 <= i < n_requirements for i in scored_on)
    ):
        raise where.error(f"{key}.scored_on", f"expected requirement indices in [0, {n_requirements})")
    return Response(
        text=text,
        n_kept=n_kept,
        kept=kept,
        score=None if score is None else parse_score(score, where, f"{key}.score"),
        scored_on=scored_on,
        meta=parse_meta(obj.get("meta"), where, f"{key}.meta"),
    )


def group_from_row(row: dict[str, Any], where: Where) -> WEvalGroup:
    """A WEval group from its canonical row (see :meth:`WEvalGroup.to_dict`)."""
    group_id = row.get("group_id")
    if group_id is None or (isinstance(group_id, str) and not group_id.strip()):
        raise where.error("group_id", "missing")
    requirements = row.get("requirements")
    if not isinstance(requirements, list) or not requirements:
        raise where.error("requirements", "expected a non-empty list")
    parsed_requirements = [requirement_from_obj(obj, where, f"requirements[{i}]") for i, obj in enumerate(requirements)]
    responses = row.get("responses")
    if not isinstance(responses, list) or len(responses) < 2:
        raise where.error("responses", "expected a list of at least 2 responses")
    parsed_responses = [
        _response_from_obj(obj, where, f"responses[{i}]", len(parsed_requirements)) for i, obj in enumerate(responses)
    ]
    return WEvalGroup(
        group_id=str(group_id),
        prompt=_text(row, "prompt", where),
        requirements=parsed_requirements,
        responses=parsed_responses,
        category=check_category(row.get("category"), where),
        where=where,
    )


def pair_from_row(row: dict[str, Any], where: Where) -> Pair:
    """A Pair record from its JSONL row."""
    label = row.get("label")
    if label not in (0, 1) or isinstance(label, bool):
        raise where.error("label", f"expected 0 or 1, got {label!r}")
    verified = row.get("verified")
    if verified is not None and not isinstance(verified, bool):
        raise where.error("verified", "expected true, false or null")
    return Pair(
        prompt=_text(row, "prompt", where),
        response=_text(row, "response", where, allow_empty=True),
        requirement=requirement_from_obj(row.get("requirement"), where, "requirement"),
        label=label,
        group_id=str(row.get("group_id") or ""),
        source=str(row.get("source") or "unknown"),
        category=check_category(row.get("category"), where),
        verified=verified,
        meta=parse_meta(row.get("meta"), where, "meta"),
    )

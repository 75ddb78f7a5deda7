"""Verifiable requirements: one registry of rule checkers and the functions every stage uses.

A checker id (``Requirement.checker``) names a :class:`Checker`: its requirement type (a taxonomy name), its
keyword arguments (``Requirement.kwargs``, validated against :class:`Param` specs), a rule that decides
whether a response keeps the requirement, and a sentence that states the requirement. Two families fill
the registry: the 25 IFEval instructions (``ifeval_checkers``) and writing-oriented ones
(``writing_checkers``, ids ``writing:*``).

Strict mode checks the response as given; loose mode (IFEval's) passes when any of its variants passes:
first line removed, last line removed, both, each with or without ``*``. An empty response fails.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wrl_lightning.data.records import Requirement, Where
from wrl_lightning.data.taxonomy import REQUIREMENT_TYPES
from wrl_lightning.errors import RecordError

Kwargs = dict[str, Any]
Predicate = Callable[[str], bool]


@dataclass(frozen=True)
class Param:
    """Spec of one keyword argument: ``kind`` is ``int``, ``str`` (non-empty) or ``words`` (non-empty list
    of non-empty strings); ``choices`` restricts a value; ``minimum``/``maximum`` bound an ``int``."""

    kind: str
    required: bool = True
    choices: tuple[Any, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None

    def problem(self, value: Any) -> str | None:
        """Why ``value`` does not fit this spec (``None`` if it does)."""
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                return f"expected an integer, got {value!r}"
            if self.minimum is not None and value < self.minimum:
                return f"must be at least {self.minimum}, got {value}"
            if self.maximum is not None and value > self.maximum:
                return f"must be at most {self.maximum}, got {value}"
        elif self.kind == "str":
            if not isinstance(value, str) or not value.strip():
                return f"expected a non-empty string, got {value!r}"
        elif self.kind == "words":
            if not isinstance(value, list) or not value or not all(isinstance(w, str) and w.strip() for w in value):
                return f"expected a non-empty list of non-empty strings, got {value!r}"
        if self.choices is not None and value not in self.choices:
            return f"{value!r} is not one of {', '.join(map(repr, self.choices))}"
        return None


@dataclass(frozen=True)
class Checker:
    """A verifiable requirement type.

    ``build(kwargs, prompt)`` returns the rule as a predicate on a response; ``describe(kwargs)`` states the
    requirement as a sentence; ``relation(kwargs)`` returns a problem with the kwargs taken together (e.g.
    min above max) or ``None``. ``needs_punkt`` loads NLTK's sentence data before the first use.
    """

    id: str
    type: str
    params: dict[str, Param]
    build: Callable[[Kwargs, str], Predicate]
    describe: Callable[[Kwargs], str]
    relation: Callable[[Kwargs], str | None] = field(default=lambda kwargs: None)
    needs_punkt: bool = False


#: Every registered checker, by id.
CHECKERS: dict[str, Checker] = {}


def register(checker: Checker) -> Checker:
    """Add ``checker`` to :data:`CHECKERS` (ids are unique; the type must be a taxonomy type)."""
    if checker.id in CHECKERS:
        raise ValueError(f"checker {checker.id!r} registered twice")
    if checker.type not in REQUIREMENT_TYPES:
        raise ValueError(f"checker {checker.id!r}: unknown requirement type {checker.type!r}")
    CHECKERS[checker.id] = checker
    return checker


def is_verifiable(req: Requirement) -> bool:
    """Whether ``req`` names a registered checker."""
    return req.checker is not None and req.checker in CHECKERS


def kwargs_problem(checker: Checker, kwargs: Any) -> tuple[str, str] | None:
    """``(field, problem)`` for kwargs that do not fit ``checker``, else ``None``."""
    if not isinstance(kwargs, dict):
        return "kwargs", f"expected an object, got {type(kwargs).__name__}"
    for name in kwargs:
        if name not in checker.params:
            known = ", ".join(checker.params) or "none"
            return f"kwargs.{name}", f"unknown argument for {checker.id} (known: {known})"
    for name, spec in checker.params.items():
        if name not in kwargs:
            if spec.required:
                return f"kwargs.{name}", f"missing (required by {checker.id})"
            continue
        problem = spec.problem(kwargs[name])
        if problem:
            return f"kwargs.{name}", problem
    problem = checker.relation(kwargs)
    return ("kwargs", problem) if problem else None


def validate_requirement(req: Requirement, where: Where | None = None) -> None:
    """Raise :class:`RecordError` if ``req.checker`` is unknown or ``req.kwargs`` do not fit it.

    A requirement without a checker is not verifiable and always valid. ``where`` locates the record in
    its file; without it the error names the requirement's text.
    """
    if req.checker is None:
        return
    where = where or Where(f"requirement {req.text[:60]!r}", None)
    checker = CHECKERS.get(req.checker)
    if checker is None:
        raise where.error("checker", f"unknown checker id {req.checker!r} ({len(CHECKERS)} registered)")
    problem = kwargs_problem(checker, req.kwargs)
    if problem:
        raise where.error(*problem)


def loose_variants(response: str) -> list[str]:
    """IFEval's loose variants: as is, first/last/both lines removed, each also without asterisks."""
    lines = response.split("\n")
    trimmed = [response] + ["\n".join(part).strip() for part in (lines[1:], lines[:-1], lines[1:-1])]
    return trimmed + [text.replace("*", "") for text in trimmed]


@functools.cache
def _punkt_ready() -> bool:
    from wrl_lightning.requirements.nltk_data import ensure_punkt_tab

    ensure_punkt_tab()
    return True


def predicate(req: Requirement, prompt: str = "") -> Predicate:
    """The rule of a validated requirement as a function of the response (strict mode)."""
    validate_requirement(req)
    checker = CHECKERS[req.checker]
    if checker.needs_punkt:
        _punkt_ready()
    return checker.build(req.kwargs, prompt)


def check_requirement(req: Requirement, response: str, *, prompt: str = "", loose: bool = False) -> bool:
    """Whether ``response`` keeps ``req`` (strict, or IFEval-loose). Raises :class:`RecordError` if ``req``
    is not verifiable or its kwargs do not fit."""
    if req.checker is None:
        raise RecordError(f"requirement {req.text[:60]!r}", None, "checker", "not verifiable (no checker id)")
    rule = predicate(req, prompt)
    variants = loose_variants(response) if loose else [response]
    return any(text.strip() and rule(text) for text in variants)


def make_requirement(checker_id: str, kwargs: Kwargs, text: str | None = None) -> Requirement:
    """A validated verifiable Requirement; its text defaults to the checker's own sentence."""
    validate_requirement(Requirement(text=text or checker_id, checker=checker_id, kwargs=kwargs))
    checker = CHECKERS[checker_id]
    return Requirement(text=text or checker.describe(kwargs), type=checker.type, checker=checker_id, kwargs=dict(kwargs))


# The families register themselves on import (they import the classes above).
from wrl_lightning.requirements import ifeval_checkers, writing_checkers  # noqa: E402, F401, I001

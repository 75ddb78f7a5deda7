"""Prompts a policy is trained and validated on: the user message plus the requirements it is rewarded on.

Readers sit behind a registry keyed by the prompt format:

- ``builtin``: the embedded writing prompts (most requirements verifiable; the path is ignored).
- ``builtin_rl``: the embedded RL prompt set (everyday tasks, each with one or two verifiable IFEval
  instructions; built by :mod:`wrl_lightning.rl.build_prompts`; the path is ignored).
- ``prompts``: a prompt file (``prompt``, ``requirements`` [strings or ``{text, type, checker, kwargs}``],
  optional ``category``, ``prompt_id``); the message is the task followed by the requirement sentences.
- ``paper``: the paper's RL schema (parquet or JSONL): ``prompt`` (the whole message), ``constraint`` (the
  requirement sentences, may be empty), ``instruction_id_list`` + ``kwargs`` (IFEval-style verifiable
  instructions; null kwargs fields dropped as IFEval does). IFEval's own input file (``key``, ``prompt``,
  ``instruction_id_list``, ``kwargs``) is this schema without ``constraint``: format ``ifeval`` reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wrl_lightning.data.io import read_unique
from wrl_lightning.data.records import Requirement, Where, requirement_from_obj
from wrl_lightning.errors import ConfigError, RecordError
from wrl_lightning.requirements.checkers import make_requirement
from wrl_lightning.requirements.ifeval_eval import input_from_row
from wrl_lightning.requirements.prompts import load_builtin_prompts, load_prompt_file
from wrl_lightning.utils.registry import registrar
from wrl_lightning.utils.resolvers import BUILTIN_DIR


@dataclass
class RLPrompt:
    """One prompt: ``text`` is the whole user message; ``requirements`` are what the reward judges."""

    id: str
    text: str
    requirements: list[Requirement]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def verifiable(self) -> list[Requirement]:
        """The requirements a rule checker can verify."""
        return [r for r in self.requirements if r.checker]


PromptReader = Callable[[Path | None], list[RLPrompt]]
PROMPT_READERS: dict[str, PromptReader] = {}
register_prompt_reader = registrar(PROMPT_READERS)
#: Formats whose reader ignores the path (embedded data).
PATHLESS_FORMATS = frozenset({"builtin", "builtin_rl"})


def load_rl_prompts(path: str | Path | None, fmt: str, key: str = "rl.data.format") -> list[RLPrompt]:
    """Prompts of ``path`` in format ``fmt`` (a key of :data:`PROMPT_READERS`); ids must be unique."""
    if fmt not in PROMPT_READERS:
        raise ConfigError(key, f"unknown format {fmt!r} (known: {', '.join(sorted(PROMPT_READERS))})")
    if fmt not in PATHLESS_FORMATS and not path:
        raise ConfigError(key.rsplit(".", 1)[0] + ".input", f"format {fmt!r} needs a file")
    prompts = PROMPT_READERS[fmt](Path(path) if path else None)
    if not prompts:
        raise RecordError(str(path), None, "file", "holds no prompt")
    return prompts


@register_prompt_reader("builtin")
def read_builtin(_: Path | None) -> list[RLPrompt]:
    """The embedded writing prompts."""
    return [RLPrompt(r.id, r.full_prompt(), r.requirements, {"category": r.category}) for r in load_builtin_prompts()]


@register_prompt_reader("builtin_rl")
def read_builtin_rl(_: Path | None) -> list[RLPrompt]:
    """The embedded RL prompt set (see :mod:`wrl_lightning.rl.build_prompts`)."""
    records = load_prompt_file(BUILTIN_DIR / "rl_prompts.jsonl")
    return [RLPrompt(r.id, r.full_prompt(), r.requirements, {"category": r.category}) for r in records]


@register_prompt_reader("prompts")
def read_prompt_file(path: Path) -> list[RLPrompt]:
    """A prompt file (see :mod:`wrl_lightning.requirements.prompts`)."""
    return [RLPrompt(r.id, r.full_prompt(), r.requirements, {"category": r.category}) for r in load_prompt_file(path)]


def _paper_row(row: dict[str, Any], where: Where) -> RLPrompt:
    """One row of the paper's RL schema (or IFEval's input schema)."""
    constraints = row.get("constraint") or []
    if isinstance(constraints, str):
        constraints = [constraints]
    if not isinstance(constraints, list):
        raise where.error("constraint", f"expected a list of requirement sentences, got {type(constraints).__name__}")
    requirements = [requirement_from_obj(obj, where, f"constraint[{i}]") for i, obj in enumerate(constraints)]
    if row.get("instruction_id_list"):
        item = input_from_row(row, where)
        requirements += [make_requirement(i, kwargs) for i, kwargs in zip(item.instruction_id_list, item.kwargs, strict=True)]
        key = item.key
    else:
        key = row.get("key", where.line)
    if not isinstance(row.get("prompt"), str) or not row["prompt"].strip():
        raise where.error("prompt", "missing or empty")
    if not requirements:
        raise where.error("constraint", "no requirement: give constraint sentences or an instruction_id_list")
    return RLPrompt(str(key), row["prompt"], requirements, {"key": key})


@register_prompt_reader("paper")
def read_paper(path: Path) -> list[RLPrompt]:
    """The paper's RL parquet/JSONL schema: ``prompt, constraint, instruction_id_list, kwargs``."""
    return read_unique(path, _paper_row, lambda prompt: prompt.id, "key")


register_prompt_reader("ifeval")(read_paper)  # IFEval's input file is the paper schema without constraints

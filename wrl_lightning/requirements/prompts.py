"""Writing prompts with requirement lists: the record, its file loader, and the embedded built-in set.

Rows: ``prompt`` (the writing task), ``requirements`` (Requirement objects or plain strings), optional
``category`` and ``prompt_id`` (or ``id``). The prompt a model sees is the task followed by the requirement
sentences, as in the 5-level writing data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wrl_lightning.data.io import read_unique
from wrl_lightning.data.records import Requirement, Where, check_category, requirement_from_obj
from wrl_lightning.data.taxonomy import infer_category, infer_requirement_type
from wrl_lightning.errors import RecordError
from wrl_lightning.requirements.checkers import CHECKERS, validate_requirement
from wrl_lightning.utils.resolvers import BUILTIN_DIR


@dataclass
class PromptRecord:
    """A writing task with its requirements."""

    id: str
    prompt: str
    category: str
    requirements: list[Requirement]

    def full_prompt(self, kept: list[bool] | None = None) -> str:
        """The task followed by the requirement sentences (only those flagged in ``kept``, if given)."""
        texts = [r.text for i, r in enumerate(self.requirements) if kept is None or kept[i]]
        return " ".join([self.prompt.strip(), *texts])


def _requirement(obj: Any, where: Where, key: str) -> Requirement:
    """A validated requirement; a missing type comes from its checker or, failing that, its wording."""
    requirement = requirement_from_obj(obj, where, key)
    try:
        validate_requirement(requirement, where)
    except RecordError as err:
        raise where.error(f"{key}.{err.field}", err.problem) from None
    if requirement.type == "unknown":
        checker = CHECKERS.get(requirement.checker or "")
        requirement.type = checker.type if checker else infer_requirement_type(requirement.text)
    return requirement


def prompt_from_row(row: dict[str, Any], where: Where) -> PromptRecord:
    """A prompt record from one row; bad rows raise ``RecordError`` naming ``file:line: field``."""
    prompt = row.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise where.error("prompt", "missing or empty")
    requirements = row.get("requirements")
    if not isinstance(requirements, list) or not requirements:
        raise where.error("requirements", "expected a non-empty list")
    prompt_id = row.get("prompt_id", row.get("id"))
    if prompt_id is None:
        prompt_id = f"{Path(where.source).stem}-{where.line}"
    elif not isinstance(prompt_id, str | int) or not str(prompt_id).strip():
        raise where.error("prompt_id", f"expected a non-empty string, got {prompt_id!r}")
    category = row.get("category")
    return PromptRecord(
        id=str(prompt_id),
        prompt=prompt,
        category=check_category(category, where) if category else infer_category(prompt),
        requirements=[_requirement(obj, where, f"requirements[{i}]") for i, obj in enumerate(requirements)],
    )


def load_prompt_file(path: str | os.PathLike) -> list[PromptRecord]:
    """Prompt records from a JSONL or parquet file; ids must be unique."""
    records = read_unique(path, prompt_from_row, lambda record: record.id, "prompt_id")
    if not records:
        raise RecordError(str(path), None, "file", "holds no prompt")
    return records


def load_builtin_prompts() -> list[PromptRecord]:
    """The embedded writing prompts (most requirements verifiable by a rule checker)."""
    return load_prompt_file(BUILTIN_DIR / "prompts.jsonl")

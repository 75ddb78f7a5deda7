"""The embedded writing prompts (``data/builtin/prompts.jsonl``) and their loader.

Each row: ``id``, ``category``, ``prompt`` (the writing task) and ``requirements`` (verifiable
Requirement objects). The prompt a model sees is the task followed by the requirement sentences, as in the
5-level writing data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from wrl_lightning.data.io import iter_rows
from wrl_lightning.data.records import Requirement, Where, check_category, requirement_from_obj
from wrl_lightning.errors import RecordError
from wrl_lightning.requirements.checkers import validate_requirement

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"


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


def prompt_from_row(row: dict, where: Where) -> PromptRecord:
    """A PromptRecord from its row; every requirement must be verifiable with fitting kwargs."""
    requirements = row.get("requirements")
    if not isinstance(requirements, list) or not requirements:
        raise where.error("requirements", "expected a non-empty list")
    parsed = []
    for i, obj in enumerate(requirements):
        requirement = requirement_from_obj(obj, where, f"requirements[{i}]")
        try:
            validate_requirement(requirement, where)
        except RecordError as err:
            raise where.error(f"requirements[{i}].{err.field}", err.problem) from None
        parsed.append(requirement)
    for key in ("id", "prompt"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            raise where.error(key, "missing or empty")
    return PromptRecord(
        id=row["id"],
        prompt=row["prompt"],
        category=check_category(row.get("category"), where),
        requirements=parsed,
    )


def load_prompts(path: str | os.PathLike) -> list[PromptRecord]:
    """Prompt records from a JSONL or parquet file (errors name ``file:line: field``)."""
    return [prompt_from_row(row, Where(str(path), line)) for line, row in iter_rows(path)]


def load_builtin_prompts() -> list[PromptRecord]:
    """The embedded writing prompts."""
    return load_prompts(BUILTIN_DIR / "prompts.jsonl")

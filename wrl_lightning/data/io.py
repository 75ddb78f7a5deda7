"""Reading record files (JSONL / parquet): rows with their line numbers, so validators can report
``file:line: field: problem``. Writing is atomic, through :mod:`wrl_lightning.utils.files`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from wrl_lightning.data.records import Where
from wrl_lightning.errors import RecordError

T = TypeVar("T")

SUPPORTED_SUFFIXES = (".jsonl", ".json", ".parquet")


def iter_rows(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_or_row_number, row)`` from a JSONL or parquet file (1-based numbers)."""
    path = Path(path)
    if not path.exists():
        raise RecordError(str(path), None, "file", "does not exist")
    if path.suffix == ".parquet":
        yield from _iter_parquet(path)
        return
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise RecordError(str(path), number, "json", f"invalid JSON ({err.msg} at column {err.colno})") from None
            if not isinstance(row, dict):
                raise RecordError(str(path), number, "json", f"expected an object, got {type(row).__name__}")
            yield number, row


def _iter_parquet(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a parquet file through `datasets` (row numbers are 1-based)."""
    from datasets import Dataset

    dataset = Dataset.from_parquet(str(path), keep_in_memory=True)
    for number, row in enumerate(dataset, 1):
        yield number, dict(row)


def read_unique(path: str | os.PathLike, parse: Callable[[dict[str, Any], Where], T], key_of: Callable[[T], str],
                key_field: str) -> list[T]:
    """``parse(row, where)`` of every row of ``path``; a repeated ``key_of(record)`` is an error on ``key_field``."""
    records: list[T] = []
    seen: set[str] = set()
    for line, row in iter_rows(path):
        where = Where(str(path), line)
        record = parse(row, where)
        key = key_of(record)
        if key in seen:
            raise where.error(key_field, f"duplicate {key!r}")
        seen.add(key)
        records.append(record)
    return records

"""Reading and writing record files: JSONL / parquet in, atomic JSON / JSONL / text out.

Readers yield ``(line_number, dict)`` so validators can report ``file:line: field: problem``.
Writers never leave a half-written file: they write a temporary file beside the target and rename it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wrl_lightning.errors import RecordError

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


@contextmanager
def atomic_path(target: str | os.PathLike):
    """Yield a temporary path beside ``target``; on success rename it over ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write ``text`` to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically write ``obj`` as pretty JSON."""
    return write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict[str, Any]]) -> Path:
    """Atomically write ``rows`` as JSON Lines."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return Path(path)


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))

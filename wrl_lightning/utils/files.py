"""Files: atomic writes (a temporary file beside the target, renamed over it, so nothing is half-written) and
the project's one cache-folder default."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Environment variable that moves the cache folder (converted embedded models, NLTK data, token caches).
CACHE_ENV = "WRL_CACHE_DIR"


def cache_dir() -> Path:
    """``$WRL_CACHE_DIR``, else ``~/.cache/wrl_lightning`` (also the config's ``paths.cache_dir``)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "wrl_lightning"


@contextmanager
def atomic_path(target: str | os.PathLike):
    """Yield a temporary path beside ``target``; on success rename it over ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, usual_mode(tmp))  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def usual_mode(path: str | os.PathLike) -> int:
    """The mode a plain ``open``/``mkdir`` gives ``path`` under the process umask (0644 / 0755 with umask 022)."""
    return (0o777 if Path(path).is_dir() else 0o666) & ~_umask()


def give_usual_permissions(folder: str | os.PathLike) -> Path:
    """Give ``folder`` and everything inside it :func:`usual_mode` (writers that go through a private temporary
    file, such as safetensors, leave 0600 files); symbolic links are left alone."""
    folder = Path(folder)
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            os.chmod(path, usual_mode(path))
    return folder


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

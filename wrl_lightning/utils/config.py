"""Config helpers: fail-fast resolution, typed getters that name the key, the rich config tree."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError, MissingMandatoryValue, OmegaConfBaseException

from wrl_lightning.errors import ConfigError
from wrl_lightning.utils.files import write_text

#: What to pass for a required (``???``) key, shown when it is missing; other keys get a generic line.
MISSING_HINTS = {
    "scorer.model": "pass scorer.model=DIR or a hub id (scorer=rm: an export of stage=rm, e.g. "
                    "RUN/rm/export; judges: a causal LM or the served model's name)",
}


def resolve_or_fail(cfg: DictConfig) -> None:
    """Resolve every interpolation now so a missing or broken key fails before any work."""
    try:
        OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as err:
        key = err.full_key or "?"
        hint = MISSING_HINTS.get(key, f"set it on the command line ({key}=VALUE)")
        raise ConfigError(key, f"missing value; {hint}") from None
    except InterpolationResolutionError as err:
        raise ConfigError(err.full_key or "?", f"cannot resolve: {err.msg}") from None
    except OmegaConfBaseException as err:
        raise ConfigError(getattr(err, "full_key", None) or "?", str(err).splitlines()[0]) from None


def require_choice(cfg: DictConfig, key: str, choices: Iterable[str]) -> str:
    """The value at ``key``, which must be one of ``choices``."""
    value = OmegaConf.select(cfg, key)
    choices = list(choices)
    if value not in choices:
        raise ConfigError(key, f"{value!r} is not one of {', '.join(map(str, choices))}")
    return value


def require_file(cfg: DictConfig, key: str) -> Path:
    """The path at ``key``, which must name an existing file."""
    value = OmegaConf.select(cfg, key)
    if value in (None, ""):
        raise ConfigError(key, "missing value; set it on the command line (key=PATH)")
    path = Path(str(value))
    if not path.is_file():
        raise ConfigError(key, f"file not found: {path}")
    return path


def require_int(cfg: DictConfig, key: str, minimum: int | None = None, optional: bool = False) -> int | None:
    """The integer at ``key`` (``None`` allowed if ``optional``), at least ``minimum``."""
    value = OmegaConf.select(cfg, key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(key, f"must be at least {minimum}, got {value}")
    return value


def config_tree(cfg: DictConfig, order: Sequence[str] = ("stage",)) -> Any:
    """A rich Tree of the resolved config, ``order`` fields first."""
    import rich.syntax
    import rich.tree

    tree = rich.tree.Tree("CONFIG", style="bold", guide_style="dim")
    fields = [key for key in order if key in cfg] + [key for key in cfg if key not in order]
    for name in fields:
        value = cfg[name]
        text = OmegaConf.to_yaml(value, resolve=True) if isinstance(value, DictConfig) else str(value)
        tree.add(name, style="bold").add(rich.syntax.Syntax(text, "yaml"))
    return tree


def print_and_save_config(cfg: DictConfig, output_dir: Path, show: bool = True) -> None:
    """Print the config tree and save it (``config_tree.log``, ``config.yaml``) in the run folder."""
    import io

    import rich
    from rich.console import Console

    tree = config_tree(cfg)
    if show:
        rich.print(tree)
    console = Console(record=True, width=120, file=io.StringIO())
    console.print(tree)
    write_text(output_dir / "config_tree.log", console.export_text())
    write_text(output_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))

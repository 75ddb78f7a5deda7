"""Config helpers: fail-fast resolution, typed getters that name the key, the rich config tree."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError, MissingMandatoryValue, OmegaConfBaseException

from wrl_lightning.errors import ConfigError
from wrl_lightning.utils.files import write_text

#: The app's config folder (its subfolders are the config groups).
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
#: ``paths.output_dir`` as conf/paths/default.yaml sets it: the folder Hydra made for this run.
DEFAULT_OUTPUT_DIR = "${hydra:runtime.output_dir}"

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


def require_number(cfg: DictConfig, key: str, minimum: float) -> float:
    """The number (integer or float) at ``key``, at least ``minimum``."""
    value = OmegaConf.select(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConfigError(key, f"expected a number >= {minimum}, got {value!r}")
    return float(value)


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


def _run_dir(default: str, *, _root_: DictConfig) -> str:
    """``hydra.run.dir``: ``paths.output_dir`` when the user set it, else ``default`` (the timestamped folder).

    ``paths.output_dir`` defaults to the folder Hydra makes (``${hydra:runtime.output_dir}``), so reading it
    here would be a cycle; a value the user gave instead becomes the run folder itself, so Hydra's ``.hydra/``
    and the run log land in the same place as the outputs.
    """
    paths = _root_.get("paths")
    node = paths._get_node("output_dir") if isinstance(paths, DictConfig) else None
    if node is None or node._value() == DEFAULT_OUTPUT_DIR:
        return default
    return str(paths.output_dir)


if not OmegaConf.has_resolver("wrl.run_dir"):
    OmegaConf.register_new_resolver("wrl.run_dir", _run_dir)


def _declares_target(cfg: DictConfig, key: str) -> bool:
    node = OmegaConf.select(cfg, key, default=None) if key else cfg
    return isinstance(node, DictConfig) and "_target_" in node


def closest_key(cfg: DictConfig, key: str) -> str | None:
    """The declared key closest to the unknown dotted ``key`` (same parent), for a "did you mean"."""
    parent, _, name = key.rpartition(".")
    node = OmegaConf.select(cfg, parent, default=None) if parent else cfg
    if not isinstance(node, DictConfig):
        return None
    match = difflib.get_close_matches(name, [str(k) for k in node.keys() if k != name], n=1, cutoff=0.6)
    return f"{parent}.{match[0]}" if parent and match else (match[0] if match else None)


#: How `+` may be used; part of every refusal of a `+key=value`.
ADD_RULE = ("`+` adds only a config group (+experiment=NAME), a new _target_ node (+callbacks.NAME._target_=CLASS) "
            "or an argument of a _target_ node (+scorer.trainer.strategy=ddp); ++KEY=VALUE forces a key anyway")


def check_additions(cfg: DictConfig, overrides: Sequence[str], choices: Mapping[str, Any]) -> None:
    """Refuse a ``+key=value`` override that adds a key no code reads (a typo would otherwise be saved silently).

    The rule: ``+`` may add (1) a config group (``+experiment=NAME``, ``+reward@rl.rewards.NAME=NAME``),
    (2) a new instantiable node (``+callbacks.NAME._target_=CLASS``), or (3) a key inside a node built from
    ``_target_`` (``+scorer.trainer.strategy=ddp``: the class receives it and refuses names it does not take).
    Anything else lands in a settings node whose keys are all declared, where nothing reads it: refused,
    naming the closest declared key. ``++key=value`` (Hydra's "add or override") is the deliberate way past.
    ``cfg`` is the composed config, ``overrides`` the task overrides, ``choices`` Hydra's group choices.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    for override in OverridesParser.create().parse_overrides(list(overrides)):
        if not override.is_add():
            continue
        key = override.key_or_group
        if key in choices or f"{key}@{override.package}" in choices or (CONF_DIR / key).is_dir():  # a group
            continue
        parts = key.split(".")
        if parts[-1] == "_target_" or any(_declares_target(cfg, ".".join(parts[:i])) for i in range(1, len(parts))):
            continue
        hint = closest_key(cfg, key)
        guess = f" (did you mean {hint}?)" if hint else ""
        raise ConfigError(key, f"unknown key{guess}; {ADD_RULE}")

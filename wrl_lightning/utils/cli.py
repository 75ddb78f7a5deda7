"""The command line around the Hydra app: config mistakes found while composing, and checks before the run
folder exists, end in one line naming the key and exit code 2."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from wrl_lightning.errors import ConfigError, WrlError
from wrl_lightning.utils.config import check_additions
from wrl_lightning.utils.run import (
    CREATED_FOLDERS,
    GUARD_FOLDERS,
    claim_output_dir,
    is_launched_rank,
    print_error,
)


class PreflightCallback(Callback):
    """Hydra callback (conf/hydra/default.yaml): checks that run before Hydra creates the run folder.

    Refuses ``+key=value`` overrides that add a key no code reads, and a run folder that already holds a
    finished run (unless ``overwrite=true``, which empties it first) — so a refused run leaves no folder.
    Hydra turns a callback's exceptions into warnings, so a refusal prints its line and exits here.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            check_additions(config, list(config.hydra.overrides.task), config.hydra.runtime.choices)
            if is_launched_rank():  # a rank of a multi-process run: rank 0 has checked and prepared the folder
                return
            folder = Path(str(OmegaConf.select(config, "hydra.run.dir"))).resolve()
            if not folder.exists():
                CREATED_FOLDERS.add(folder)
            claim_output_dir(config, folder)
        except WrlError as err:
            print_error(err)
            sys.exit(err.exit_code)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            check_additions(config, list(config.hydra.overrides.task), config.hydra.runtime.choices)
        except WrlError as err:
            print_error(err)
            sys.exit(err.exit_code)


def hydra_config_error(err: BaseException, overrides: list[str]) -> ConfigError | None:
    """The one-line :class:`ConfigError` for a config mistake Hydra found while composing, else None."""
    from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

    if isinstance(err, OverrideParseException):
        return ConfigError(err.override, f"cannot parse this override: {err.message.splitlines()[0]}")
    if isinstance(err, MissingConfigException):
        group, _, name = str(err.missing_cfg_file).rpartition("/")
        if err.options:
            return ConfigError(group or name, f"no option {name!r} (options: {', '.join(err.options)})")
        return ConfigError(group or name, str(err).splitlines()[0])
    if not isinstance(err, ConfigCompositionException | OmegaConfBaseException):
        return None
    cause = err if isinstance(err, OmegaConfBaseException) else err.__cause__
    key = getattr(cause, "full_key", None)
    if isinstance(cause, ConfigKeyError | ConfigAttributeError) and key:
        hint = _closest_known_key(key, overrides)
        return ConfigError(key, "unknown key" + (f" (did you mean {hint}?)" if hint else ""))
    first = str(err).splitlines()[0] if str(err) else type(err).__name__
    taken = re.search(r"An item is already at '([^']+)'", first)
    if taken:
        return ConfigError(taken[1], f"already declared: set it without the `+` ({taken[1]}=VALUE)")
    return ConfigError(key or "overrides", first)


def _closest_known_key(key: str, overrides: list[str]) -> str | None:
    """The declared key nearest to ``key``, from the config composed without the failing override."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from wrl_lightning.utils.config import closest_key

    rest = [o for o in overrides if not o.lstrip("+~").startswith(f"{key}=")]
    try:
        GlobalHydra.instance().clear()
        with initialize_config_dir(str(Path(__file__).resolve().parents[1] / "conf"), version_base="1.3"):
            return closest_key(compose(config_name="config", overrides=rest), key)
    except Exception:  # only a hint: the message stands without it
        return None


def run_cli(app: Callable[[], Any]) -> None:
    """Run the Hydra ``app``; config mistakes Hydra finds while composing exit 2 with one line naming the key.

    Hydra reports those itself (several lines, exit 1) unless ``HYDRA_FULL_ERROR=1``, which makes it raise
    them here instead; other exceptions then keep their full traceback.
    """
    os.environ["HYDRA_FULL_ERROR"] = "1"
    GUARD_FOLDERS["folders"] = True
    try:
        app()
    except WrlError as err:  # a failed job of a multirun
        print_error(err)
        sys.exit(err.exit_code)
    except Exception as err:
        user = hydra_config_error(err, [a for a in sys.argv[1:] if not a.startswith("-")])
        if user is None:
            raise
        print_error(user)
        sys.exit(user.exit_code)

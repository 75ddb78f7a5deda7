"""``stage=serve``: the RM as an HTTP service (both APIs of :mod:`wrl_lightning.serving.apis`), until stopped.

Checks the config, prints the endpoints' URLs, then runs the batched LitServe server
(:mod:`wrl_lightning.serving.server`) in the foreground. Ctrl-C or SIGTERM shuts it down with its workers;
the metrics (the URLs served) are written then.
"""

from __future__ import annotations

import os
import signal
import socket
from typing import Any

from omegaconf import DictConfig, OmegaConf

from wrl_lightning.errors import ConfigError, WrlError
from wrl_lightning.models.heads import HEADS
from wrl_lightning.models.loading import resolve_model_path
from wrl_lightning.scoring.resident import AUTOCAST
from wrl_lightning.serving.apis import APIS
from wrl_lightning.utils.config import require_choice, require_int, require_number

#: Interfaces LitServe binds.
HOSTS = ("127.0.0.1", "0.0.0.0", "::")
ACCELERATORS = ("auto", "cpu", "cuda")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
RESERVED_PATHS = ("/health", "/info")


def _paths(cfg: DictConfig) -> dict[str, str]:
    """``serve.paths``: one distinct path per API, none LitServe's own."""
    paths = {api: OmegaConf.select(cfg, f"serve.paths.{api}") for api in APIS}
    for api, path in paths.items():
        if not isinstance(path, str) or not path.startswith("/") or path in RESERVED_PATHS:
            raise ConfigError(f"serve.paths.{api}", f"expected a path like /{api} (not {', '.join(RESERVED_PATHS)}), got {path!r}")
    if len(set(paths.values())) < len(paths):
        raise ConfigError("serve.paths", f"each API needs its own path, got {paths}")
    return paths


def _devices(cfg: DictConfig) -> int | str:
    """``serve.devices``: a count, or ``auto``."""
    value = OmegaConf.select(cfg, "serve.devices")
    return "auto" if value == "auto" else require_int(cfg, "serve.devices", minimum=1)


def _strip(cfg: DictConfig) -> tuple[str, ...]:
    """``serve.openrlhf_strip`` as a tuple of non-empty strings."""
    value = OmegaConf.select(cfg, "serve.openrlhf_strip") or []
    is_list = OmegaConf.is_list(value) or isinstance(value, list)
    if not is_list or not all(isinstance(v, str) and v for v in value):
        raise ConfigError("serve.openrlhf_strip", f"expected a list of non-empty strings, got {value!r}")
    return tuple(value)


def _scorer_options(cfg: DictConfig) -> dict[str, Any]:
    """``serve.scorer`` as keyword arguments of the resident RM, its precision and head checked here (the RM
    itself loads in the worker process)."""
    options = OmegaConf.to_container(cfg.serve.scorer, resolve=True)
    if options.get("precision") not in (None, "auto", *AUTOCAST):
        raise ConfigError("serve.scorer.precision", f"must be null, auto or one of {', '.join(AUTOCAST)}, got {options['precision']!r}")
    if options.get("head") not in (None, *HEADS):
        raise ConfigError("serve.scorer.head", f"must be null or one of {', '.join(HEADS)}, got {options['head']!r}")
    return options


def endpoint_urls(host: str, port: int, paths: dict[str, str]) -> dict[str, str]:
    """The URL of each API."""
    shown = f"[{host}]" if ":" in host else host
    return {api: f"http://{shown}:{port}{path}" for api, path in paths.items()}


def _check_port_free(host: str, port: int) -> None:
    """Fail with the key to change when ``host:port`` cannot be bound (e.g. another server holds it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind((host, port))
        except OSError as err:
            raise ConfigError("serve.port", f"cannot listen on {host}:{port}: {err.strerror}") from None


def _stop_on_sigterm() -> None:
    """Make SIGTERM shut the server down like Ctrl-C (LitServe stops its workers on KeyboardInterrupt); the
    HTTP processes LitServe forks keep SIGTERM's default action."""
    main = os.getpid()

    def interrupt(signum, frame):
        if os.getpid() == main:
            raise KeyboardInterrupt
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, interrupt)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Check the config, print the URLs, serve until stopped; return the model and URLs."""
    model = resolve_model_path(str(cfg.serve.model), "serve.model")
    host = require_choice(cfg, "serve.host", HOSTS)
    port = require_int(cfg, "serve.port", minimum=1024)
    if port > 65535:
        raise ConfigError("serve.port", f"must be at most 65535, got {port}")
    _check_port_free(host, port)
    paths = _paths(cfg)
    max_batch_size = require_int(cfg, "serve.max_batch_size", minimum=1)
    batch_timeout = require_number(cfg, "serve.batch_timeout", 0)
    request_timeout = require_number(cfg, "serve.request_timeout", 0.001)
    if request_timeout <= batch_timeout:
        raise ConfigError("serve.request_timeout", f"must exceed serve.batch_timeout ({batch_timeout}), got {request_timeout}")
    accelerator = require_choice(cfg, "serve.accelerator", ACCELERATORS)
    log_level = require_choice(cfg, "serve.log_level", LOG_LEVELS)
    options = _scorer_options(cfg)

    from rich.console import Console

    from wrl_lightning.serving.server import build_server

    server = build_server(model, options, paths, strip=_strip(cfg), max_batch_size=max_batch_size,
                          batch_timeout=batch_timeout, request_timeout=request_timeout, accelerator=accelerator,
                          devices=_devices(cfg), workers_per_device=require_int(cfg, "serve.workers_per_device", minimum=1))
    urls = endpoint_urls(host, port, {"health": "/health", **paths})
    health = urls.pop("health")
    console = Console(soft_wrap=True)
    console.print(f"RM service for {model} (ready when GET {health} answers ok):")
    for api, url in urls.items():
        console.print(f"  {api}: POST {url}")
    _stop_on_sigterm()
    try:
        server.run(host=host, port=port, log_level=log_level, generate_client_file=False)
    except RuntimeError as err:  # LitServe: a worker's setup (loading the RM) failed; its traceback is logged
        raise WrlError(f"serve: the RM worker failed to start ({err}); its error is logged above") from None
    return {"model": model, **{f"url/{api}": url for api, url in urls.items()}}

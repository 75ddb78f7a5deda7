"""OmegaConf resolvers used by the configs (registered once, on package import)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

BUILTIN_DIR = Path(__file__).resolve().parents[1] / "data" / "builtin"


def register_resolvers() -> None:
    """Register ``${wrl.builtin_dir:}`` (the embedded data folder) if not yet registered."""
    if not OmegaConf.has_resolver("wrl.builtin_dir"):
        OmegaConf.register_new_resolver("wrl.builtin_dir", lambda: str(BUILTIN_DIR))

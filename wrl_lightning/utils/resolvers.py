"""OmegaConf resolvers used by the configs (registered once, on package import)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from wrl_lightning.utils.files import cache_dir

BUILTIN_DIR = Path(__file__).resolve().parents[1] / "data" / "builtin"


#: Resolver name -> function of no argument.
RESOLVERS = {
    "wrl.builtin_dir": lambda: str(BUILTIN_DIR),  # the embedded data folder
    "wrl.cache_dir": lambda: str(cache_dir()),    # the cache folder ($WRL_CACHE_DIR or ~/.cache/wrl_lightning)
}


def register_resolvers() -> None:
    """Register the :data:`RESOLVERS` not yet registered."""
    for name, resolver in RESOLVERS.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)

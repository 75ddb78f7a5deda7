"""wrl_lightning: fine-grained reward modeling for writing (WEval benchmark + WRL training)."""

__version__ = "0.1.0"

from wrl_lightning.utils.resolvers import register_resolvers as _register_resolvers

_register_resolvers()

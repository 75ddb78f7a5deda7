"""Hydra configs of the `wrl` app (a package, so an installed console script finds them)."""

"""Which requirement subsets get a response: a strategy maps ``n`` requirements to a list of keep-masks.

- ``levels``: level k keeps the first k requirements (k = 0..n): the level-k response keeps requirement k,
  the level-(k-1) response does not.
- ``drop_one``: the full prompt, and for each k the full prompt without requirement k.
- ``random_subsets``: the full prompt and ``subsets`` distinct random proper subsets.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from wrl_lightning.utils.registry import registrar

Mask = tuple[bool, ...]
Strategy = Callable[..., list[Mask]]
STRATEGIES: dict[str, Strategy] = {}


register_strategy = registrar(STRATEGIES)


@register_strategy("levels")
def levels(n: int, **_: Any) -> list[Mask]:
    """Level k keeps the first k requirements, k = 0..n."""
    return [tuple(i < k for i in range(n)) for k in range(n + 1)]


@register_strategy("drop_one")
def drop_one(n: int, **_: Any) -> list[Mask]:
    """All requirements, then all but one, for each one."""
    return [(True,) * n] + [tuple(i != k for i in range(n)) for k in range(n)]


@register_strategy("random_subsets")
def random_subsets(n: int, rng: random.Random, subsets: int = 4, **_: Any) -> list[Mask]:
    """All requirements, then ``subsets`` distinct random proper subsets (fewer if ``n`` is small)."""
    codes = rng.sample(range(2**n - 1), min(subsets, 2**n - 1))  # 2**n - 1 would be the full mask
    return [(True,) * n] + [tuple(bool(code >> i & 1) for i in range(n)) for code in codes]


def mask_key(mask: Mask) -> str:
    """``(True, False, True)`` -> ``"101"``."""
    return "".join("1" if kept else "0" for kept in mask)

"""The one seeded split of group keys (group ids or prompts) into a training side and a held-out side."""

from __future__ import annotations

import random
from collections.abc import Iterable


def split_keys(keys: Iterable[str], held_out_fraction: float, seed: int,
               max_keys: int | None = None) -> tuple[set[str], set[str]]:
    """Seeded split of the unique ``keys`` into (train, held out).

    ``max_keys`` keeps only that many keys (a seeded pick) before splitting. Each side gets at least one key
    when ``0 < held_out_fraction < 1`` and there are two or more keys.
    """
    unique = sorted(set(keys))
    random.Random(seed).shuffle(unique)
    unique = unique[:max_keys] if max_keys else unique
    n_held = round(held_out_fraction * len(unique))
    if 0 < held_out_fraction < 1 and len(unique) > 1:
        n_held = min(max(n_held, 1), len(unique) - 1)
    return set(unique[n_held:]), set(unique[:n_held])

"""Named registries: ``register = registrar(TABLE)`` gives a ``@register("name")`` decorator."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def registrar(table: dict[str, T]) -> Callable[[str], Callable[[T], T]]:
    """A decorator factory that adds the decorated object to ``table`` under a name."""

    def register(name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            table[name] = obj
            return obj

        return add

    return register

"""Process-group facts that work with or without an initialised ``torch.distributed``."""

from __future__ import annotations

from typing import Any

import torch


def rank_and_world() -> tuple[int, int]:
    """(rank, world size); (0, 1) outside a process group."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def all_gather_tensor(local: torch.Tensor) -> torch.Tensor:
    """Every rank's ``local`` (same shape on every rank), concatenated in rank order; ``local`` alone outside a
    process group."""
    _, world = rank_and_world()
    if world == 1:
        return local
    parts = [torch.empty_like(local) for _ in range(world)]
    torch.distributed.all_gather(parts, local.contiguous())
    return torch.cat(parts)


def all_gather_objects(local: Any) -> list[Any]:
    """Every rank's picklable ``local``, in rank order."""
    _, world = rank_and_world()
    if world == 1:
        return [local]
    everything: list[Any] = [None] * world
    torch.distributed.all_gather_object(everything, local)
    return everything

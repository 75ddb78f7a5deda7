"""Group-normalised advantages for GRPO.

Rewards come as a flat ``(n_prompts * n,)`` tensor laid out group-contiguous: the ``n`` rollouts of a prompt are
adjacent. ``A = (r - mean_group(r)) / scale`` where ``scale`` comes from the ``SCALE_REWARDS`` registry:

- ``group``: the reward std within the group, plus ``eps``;
- ``batch``: the reward std over the whole batch, plus ``eps``;
- ``none``: 1 (no division; Dr. GRPO).

Stds are sample stds (Bessel-corrected, as TRL). NaN rewards (a failed reward source) are left out of every mean
and std and get advantage 0; a std over fewer than 2 valid rewards is 0. A constant group has ``r - mean == 0``
exactly, so its advantage is exactly 0 whatever the scale (``eps``, 1e-4 as TRL, keeps the division finite).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from wrl_lightning.errors import ConfigError
from wrl_lightning.utils.registry import registrar

#: name -> ``fn(grouped (G, n), eps) -> scale`` broadcastable to ``(G, n)``; the centred rewards are divided by it.
SCALE_REWARDS: dict[str, Callable[[Tensor, float], Tensor]] = {}
register_scale = registrar(SCALE_REWARDS)


def nanstd(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Sample std of ``x`` ignoring NaNs, over ``dim`` (all if None); 0 where fewer than 2 values are valid."""
    valid = ~torch.isnan(x)
    count = valid.sum(dim=dim, keepdim=True) if dim is not None else valid.sum()
    mean = torch.nanmean(x, dim=dim, keepdim=True) if dim is not None else torch.nanmean(x)
    sq = torch.where(valid, (x - mean) ** 2, torch.zeros_like(x))
    total = sq.sum(dim=dim, keepdim=True) if dim is not None else sq.sum()
    std = torch.where(count > 1, (total / (count - 1).clamp(min=1)).sqrt(), torch.zeros_like(total))
    return std if keepdim or dim is None else std.squeeze(dim)


@register_scale("group")
def _group_scale(grouped: Tensor, eps: float) -> Tensor:
    return nanstd(grouped, dim=1, keepdim=True) + eps


@register_scale("batch")
def _batch_scale(grouped: Tensor, eps: float) -> Tensor:
    return nanstd(grouped) + eps


@register_scale("none")
def _no_scale(grouped: Tensor, eps: float) -> Tensor:
    return torch.ones((), dtype=grouped.dtype, device=grouped.device)


def _grouped(rewards: Tensor, n: int) -> Tensor:
    if rewards.dim() != 1 or n < 1 or rewards.numel() % n:
        raise ValueError(
            f"rewards must be 1-D with a multiple of n={n} entries, got shape {tuple(rewards.shape)}"
        )
    return rewards.float().view(-1, n)


def group_advantages(rewards: Tensor, n: int, scale_rewards: str = "group", eps: float = 1e-4) -> Tensor:
    """Advantages ``(N,)`` of rewards ``(N,) = (n_prompts * n,)``, group-contiguous; NaN rewards -> 0 (float32)."""
    if scale_rewards not in SCALE_REWARDS:
        raise ConfigError(
            "scale_rewards", f"unknown mode {scale_rewards!r} (known: {', '.join(SCALE_REWARDS)})"
        )
    grouped = _grouped(rewards, n)
    centred = grouped - torch.nanmean(grouped, dim=1, keepdim=True)
    advantages = centred / SCALE_REWARDS[scale_rewards](grouped, eps)
    return torch.where(torch.isnan(grouped), torch.zeros_like(advantages), advantages).view(-1)


def frac_zero_std(rewards: Tensor, n: int, atol: float = 1e-8) -> Tensor:
    """Fraction (0-dim tensor) of groups whose reward std (NaN-ignoring) is ~0: they carry no learning signal.

    A group with fewer than 2 valid rewards counts as zero std.
    """
    std = nanstd(_grouped(rewards, n), dim=1)
    return (std <= atol).float().mean()

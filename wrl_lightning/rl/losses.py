"""The clipped-ratio (PPO/GRPO) policy loss, its per-token terms and how they are aggregated.

Per token, with ``ratio = exp(logp - old_logp)`` and the sequence's advantage ``A``::

    loss_t = -min(ratio * A, clip(ratio, 1 - clip, 1 + clip_high) * A) + beta * kl_t

The KL to the reference is a loss term (not folded into the reward). The per-token losses are reduced by an
``AGGREGATIONS`` entry over the completion mask; an entropy bonus ``-entropy_coef * token_mean(entropy)`` is then
added, a plain token mean whatever the aggregation (as TRL: the bonus does not depend on the policy normaliser).

Aggregations (``values``, ``mask`` of shape ``(batch, seq)``):

- ``token_mean``: sum over every token of the batch / number of tokens (DAPO; TRL ``dapo``/``bnpo``). Pass
  ``num_tokens`` to divide by a global count instead (all micro-batches of an accumulation window, all ranks).
- ``seq_mean_token_mean``: mean over each sequence's tokens, then mean over sequences (GRPO paper; TRL ``grpo``).
- ``seq_mean_token_sum``: sum over each sequence's tokens, then mean over sequences (Dr. GRPO; TRL ``dr_grpo``
  when ``max_len`` = ``max_completion_length``: each sum is divided by that constant, so the scale of the loss
  does not grow with the generation budget; ``max_len`` None divides by 1).

Sequences without any mask token count in the ``seq_*`` means (contributing 0), as in TRL.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from wrl_lightning.errors import ConfigError
from wrl_lightning.rl.kl import kl_penalty
from wrl_lightning.utils.registry import registrar

#: name -> ``fn(values, mask, num_tokens=None, max_len=None) -> scalar`` (masked reduction of ``(batch, seq)``).
AGGREGATIONS: dict[str, Callable[..., Tensor]] = {}
register_aggregation = registrar(AGGREGATIONS)


def _masked(values: Tensor, mask: Tensor) -> Tensor:
    return torch.where(mask.bool(), values, torch.zeros_like(values))


@register_aggregation("token_mean")
def token_mean(values: Tensor, mask: Tensor, num_tokens: float | Tensor | None = None, **_) -> Tensor:
    """Sum of masked ``values`` / ``num_tokens`` (default: the mask's token count, at least 1)."""
    denominator = mask.sum().clamp(min=1) if num_tokens is None else num_tokens
    return _masked(values, mask).sum() / denominator


@register_aggregation("seq_mean_token_mean")
def seq_mean_token_mean(values: Tensor, mask: Tensor, **_) -> Tensor:
    """Per-sequence token mean, then mean over the batch."""
    return (_masked(values, mask).sum(-1) / mask.sum(-1).clamp(min=1)).mean()


@register_aggregation("seq_mean_token_sum")
def seq_mean_token_sum(values: Tensor, mask: Tensor, max_len: float | None = None, **_) -> Tensor:
    """Per-sequence token sum (divided by the constant ``max_len`` if given), then mean over the batch."""
    return _masked(values, mask).sum(-1).mean() / (max_len or 1)


def aggregate(values: Tensor, mask: Tensor, mode: str = "token_mean", **kwargs) -> Tensor:
    """Reduce ``values`` ``(batch, seq)`` over the ``mask`` ``(batch, seq)`` by the ``AGGREGATIONS`` entry ``mode``."""
    if mode not in AGGREGATIONS:
        raise ConfigError("loss_agg_mode", f"unknown aggregation {mode!r} (known: {', '.join(AGGREGATIONS)})")
    return AGGREGATIONS[mode](values, mask, **kwargs)


def logprobs_and_entropy(logits: Tensor, tokens: Tensor, temperature: float = 1.0) -> tuple[Tensor, Tensor]:
    """Log-probs of ``tokens`` ``(batch, seq)`` and the entropy per position under ``logits / temperature``.

    ``logits`` ``(batch, seq, vocab)`` must already be aligned with ``tokens`` (the logits at position t-1 predict
    token t: pass ``logits[:, P - 1 : -1]`` for completions after a P-token prompt). Computed in float32.
    """
    logp_all = torch.log_softmax(logits.float() / temperature, dim=-1)
    logp = logp_all.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    return logp, entropy


def policy_loss(
    logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    old_logp: Tensor | None = None,
    *,
    clip: float = 0.2,
    clip_high: float | None = None,
    ref_logp: Tensor | None = None,
    beta: float = 0.0,
    kl_estimator: str = "k3",
    kl_clamp: float | None = None,
    kl_ratio_weighted: bool = False,
    entropy: Tensor | None = None,
    entropy_coef: float = 0.0,
    aggregation: str = "token_mean",
    num_tokens: float | Tensor | None = None,
    max_len: float | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The GRPO loss (scalar) and detached 0-dim stats.

    Shapes: ``logp``, ``old_logp``, ``ref_logp``, ``entropy``, ``mask``: ``(batch, seq)`` over completion tokens;
    ``advantages``: ``(batch,)`` (or ``(batch, seq)``). ``old_logp`` None means on-policy (``logp.detach()``,
    ratio 1). ``clip_high`` defaults to ``clip``. The KL term needs ``ref_logp`` and ``beta > 0``;
    ``kl_ratio_weighted`` multiplies the per-token KL by the (differentiable) ratio, TRL's
    ``use_bias_correction_kl`` (off by default here). ``num_tokens`` / ``max_len`` go to the aggregation.

    Stats (token means over the mask): ``clip_frac_low`` (ratio < 1 - clip with A < 0), ``clip_frac_high``
    (ratio > 1 + clip_high with A > 0), ``clip_frac`` (either: the clipped branch is the active one),
    ``ratio``, ``kl`` (if computed), ``entropy`` (if given), and ``pg_loss`` (the aggregated clipped term alone).
    """
    mask = mask.to(logp.dtype)
    clip_high = clip if clip_high is None else clip_high
    if old_logp is None:
        old_logp = logp.detach()
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(-1)
    advantages = advantages.to(logp.dtype)

    ratio = torch.exp(logp - old_logp)
    clipped = ratio.clamp(1 - clip, 1 + clip_high)
    pg = -torch.min(ratio * advantages, clipped * advantages)
    per_token = pg
    stats: dict[str, Tensor] = {}
    if beta > 0:
        if ref_logp is None:
            raise ValueError("beta > 0 needs ref_logp")
        kl = kl_penalty(logp, ref_logp, kl_estimator, kl_clamp)
        per_token = per_token + beta * (kl * ratio if kl_ratio_weighted else kl)
        stats["kl"] = token_mean(kl.detach(), mask)

    loss = aggregate(per_token, mask, aggregation, num_tokens=num_tokens, max_len=max_len)
    if entropy is not None:
        entropy_mean = token_mean(entropy, mask)
        if entropy_coef:
            loss = loss - entropy_coef * entropy_mean
        stats["entropy"] = entropy_mean.detach()

    with torch.no_grad():
        low = (ratio < 1 - clip) & (advantages < 0)
        high = (ratio > 1 + clip_high) & (advantages > 0)
        stats.update(
            clip_frac_low=token_mean(low.to(mask.dtype), mask),
            clip_frac_high=token_mean(high.to(mask.dtype), mask),
            clip_frac=token_mean((low | high).to(mask.dtype), mask),
            ratio=token_mean(ratio, mask),
            pg_loss=aggregate(pg, mask, aggregation, num_tokens=num_tokens, max_len=max_len),
        )
    return loss, stats

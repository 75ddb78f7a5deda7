"""Per-token KL estimators between the policy and a reference, from sampled tokens' log-probs.

With ``d = ref_logp - logp`` (both ``(batch, seq)``), tokens sampled from the policy:

- ``k1``: ``-d = logp - ref_logp`` (unbiased for KL(pi || ref), high variance, can be negative);
- ``k2``: ``0.5 d^2`` (biased, low variance, >= 0);
- ``k3`` (alias ``low_var_kl``): ``exp(d) - d - 1`` (unbiased, >= 0, 0 where equal; Schulman's estimator, TRL's).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from wrl_lightning.errors import ConfigError
from wrl_lightning.utils.registry import registrar

#: name -> ``fn(logp, ref_logp) -> per-token KL``, same shape as the inputs.
KL_ESTIMATORS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {}
register_kl = registrar(KL_ESTIMATORS)


@register_kl("k1")
def k1(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """``logp - ref_logp``."""
    return logp - ref_logp


@register_kl("k2")
def k2(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """``0.5 (logp - ref_logp)^2``."""
    return 0.5 * (logp - ref_logp) ** 2


@register_kl("low_var_kl")
@register_kl("k3")
def k3(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """``exp(ref_logp - logp) - (ref_logp - logp) - 1``, >= 0."""
    d = ref_logp - logp
    return torch.exp(d) - d - 1


def kl_penalty(logp: Tensor, ref_logp: Tensor, estimator: str = "k3", clamp: float | None = None) -> Tensor:
    """Per-token KL ``(batch, seq)`` by ``estimator``.

    ``clamp`` None (default, as TRL) leaves it raw. A number clamps like verl's ``low_var_kl`` (which uses 10):
    the log-ratio to [-20, 20] before the estimator, then the result to [-clamp, clamp]; clamped tokens get no
    gradient, which keeps a wild token from blowing up the loss.
    """
    if estimator not in KL_ESTIMATORS:
        raise ConfigError(
            "kl_estimator", f"unknown estimator {estimator!r} (known: {', '.join(KL_ESTIMATORS)})"
        )
    if clamp is not None:
        logp = ref_logp + (logp - ref_logp).clamp(-20.0, 20.0)
    kl = KL_ESTIMATORS[estimator](logp, ref_logp)
    return kl.clamp(-clamp, clamp) if clamp is not None else kl

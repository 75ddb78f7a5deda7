"""Summaries of a pair set: counts by requirement type and category, label balance and noise, lengths."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from wrl_lightning.data.records import Pair

#: Counts tokens of many texts at once (e.g. a tokenizer's batch call).
TokenCounter = Callable[[Sequence[str]], list[int]]


def word_counts(texts: Sequence[str]) -> list[int]:
    """Whitespace-separated words per text."""
    return [len(text.split()) for text in texts]


def tokenizer_counter(tokenizer: Any) -> TokenCounter:
    """Token counts per text with a transformers tokenizer (no special tokens)."""
    return lambda texts: [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]


def _summary(values: list[int]) -> dict[str, float]:
    if not values:
        return {"mean": float("nan"), "max": 0, "total": 0}
    return {"mean": sum(values) / len(values), "max": max(values), "total": sum(values)}


def pair_stats(pairs: list[Pair], tokens: TokenCounter | None = None) -> dict[str, Any]:
    """Counts per requirement type / category, positive rate and response lengths (words, tokens)."""
    responses = [pair.response for pair in pairs]
    stats: dict[str, Any] = {
        "count": len(pairs),
        "positive_rate": sum(pair.label for pair in pairs) / len(pairs) if pairs else float("nan"),
        "by_type": dict(sorted(Counter(pair.requirement.type for pair in pairs).items())),
        "by_category": dict(sorted(Counter(pair.category for pair in pairs).items())),
        "response_words": _summary(word_counts(responses)),
    }
    if tokens is not None:
        stats["response_tokens"] = _summary(tokens(responses))
    return stats


def noise_stats(pairs: list[Pair]) -> dict[str, Any]:
    """Label noise where a checker gave a verdict: share of verified pairs whose label it contradicts."""
    checked = [pair for pair in pairs if pair.verified is not None]
    noisy = [pair for pair in checked if pair.verified is False]
    by_type: dict[str, list[int]] = {}
    for pair in checked:
        by_type.setdefault(pair.requirement.type, []).append(int(pair.verified is False))
    return {
        "verifiable": len(checked),
        "noisy": len(noisy),
        "rate": len(noisy) / len(checked) if checked else float("nan"),
        "rate_by_type": {name: sum(flags) / len(flags) for name, flags in sorted(by_type.items())},
    }

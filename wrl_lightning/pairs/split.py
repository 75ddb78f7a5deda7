"""Train/eval split by prompt: every group with the same prompt lands on the same side."""

from __future__ import annotations

from wrl_lightning.data.split import split_keys


def prompt_key(text: str) -> str:
    """Prompts compare equal up to case and whitespace."""
    return " ".join(text.lower().split())


def split_by_prompt(keys: dict[str, str], eval_fraction: float, seed: int) -> set[str]:
    """The group ids held out for eval, given ``group_id -> prompt`` (seeded; whole prompts move together).

    At least one prompt goes to each side when ``0 < eval_fraction < 1`` and there are two or more prompts.
    """
    _, held_out = split_keys((prompt_key(text) for text in keys.values()), eval_fraction, seed)
    return {group_id for group_id, text in keys.items() if prompt_key(text) in held_out}

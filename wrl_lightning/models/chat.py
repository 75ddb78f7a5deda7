"""Chat-template encoding shared by everything that feeds a causal LM a user prompt (GRPO rollouts, SFT), and the
positions of left-padded rows.

The prompt is rendered through the tokenizer's chat template with a generation prompt (as ``generate`` sees it)
and tokenized without extra special tokens (the template places them); a tokenizer without a template, or
``use_chat_template=False``, gets the raw text with the tokenizer's own special tokens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def encode_prompt(tokenizer, text: str, system_prompt: str | None = None, use_chat_template: bool = True) -> list[int]:
    """Token ids of one user message: the chat template with a generation prompt where the tokenizer has one."""
    if not use_chat_template or not tokenizer.chat_template:
        return tokenizer(text)["input_ids"]
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages.append({"role": "user", "content": text})
    chat = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return tokenizer(chat, add_special_tokens=False)["input_ids"]


def position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions counted over real tokens (left padding gets 0), as ``generate`` assigns them."""
    return (attention_mask.cumsum(dim=1) - 1).clamp(min=0)

"""Rollouts: completions sampled from the live policy, as token tensors ready for the GRPO update.

Backends sit behind a registry keyed by ``rollout.backend``:

- ``hf``: transformers ``generate`` on the policy being trained (left-padded prompts through the chat
  template, ``synced_gpus`` under ZeRO-3 so ranks with shorter generations keep stepping). Simple and exact
  (the sampled tokens come from the very weights being updated); on a GPU it is the bottleneck of GRPO
  (~1k tokens/s for a 0.5B model on an H200), so large runs want a serving engine.

A rollout is ``[left-padded prompt | completion]``: the completion mask covers each completion up to and
including its first EOS; a completion without EOS within ``max_new_tokens`` is *truncated*.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from wrl_lightning.errors import ConfigError
from wrl_lightning.models.chat import encode_prompt
from wrl_lightning.utils.registry import registrar


@dataclass
class Rollouts:
    """A batch of prompt + completion token rows (``prompt_length`` left-padded prompt columns first)."""

    input_ids: torch.Tensor         # (B, P + C)
    attention_mask: torch.Tensor    # (B, P + C): prompt padding 0, completion tokens after EOS 0
    completion_mask: torch.Tensor   # (B, C) float: 1 on completion tokens up to and including EOS
    prompt_length: int              # P
    texts: list[str]                # decoded completions (special tokens dropped)
    truncated: torch.Tensor         # (B,) bool: no EOS within the token budget
    seconds: float                  # wall time of the generation

    @property
    def completion_ids(self) -> torch.Tensor:
        return self.input_ids[:, self.prompt_length:]

    def rows(self, index: torch.Tensor) -> Rollouts:
        """The rows ``index`` (the same prompt width)."""
        return Rollouts(self.input_ids[index], self.attention_mask[index], self.completion_mask[index],
                        self.prompt_length, [self.texts[i] for i in index.tolist()], self.truncated[index], self.seconds)


ROLLOUT_BACKENDS: dict[str, type] = {}
register_backend = registrar(ROLLOUT_BACKENDS)


def completion_mask(completions: torch.Tensor, eos_ids: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask up to and including the first EOS, truncated flags) of right-padded completion ids."""
    is_eos = torch.isin(completions, torch.tensor(list(eos_ids), device=completions.device))
    seen_before = (is_eos.cumsum(dim=1) - is_eos.long()) > 0  # an EOS strictly before this position
    return (~seen_before).float(), ~is_eos.any(dim=1)


@register_backend("hf")
class HFRollout:
    """Sample completions with transformers ``generate`` on the live policy.

    Args:
        max_new_tokens: completion token budget.
        temperature: sampling temperature (0 = greedy); the loss scales logits by the same value.
        top_p: nucleus sampling mass (1 = off, as GRPO assumes).
        system_prompt: optional system message.
        use_chat_template: wrap prompts in the tokenizer's chat template.
    """

    def __init__(self, max_new_tokens: int = 64, temperature: float = 1.0, top_p: float = 1.0,
                 system_prompt: str | None = None, use_chat_template: bool = True):
        if max_new_tokens < 1:
            raise ConfigError("rollout.max_new_tokens", f"must be at least 1, got {max_new_tokens}")
        if temperature < 0:
            raise ConfigError("rollout.temperature", f"must be >= 0 (0 = greedy), got {temperature}")
        self.max_new_tokens, self.temperature, self.top_p = max_new_tokens, temperature, top_p
        self.system_prompt, self.use_chat_template = system_prompt, use_chat_template

    @torch.no_grad()
    def generate(self, model: torch.nn.Module, tokenizer, prompts: Sequence[str], n: int = 1,
                 synced_gpus: bool = False, temperature: float | None = None) -> Rollouts:
        """``n`` completions per prompt, group-contiguous (prompt i's rows are i*n ... i*n+n-1)."""
        temperature = self.temperature if temperature is None else temperature
        encoded = [encode_prompt(tokenizer, text, self.system_prompt, self.use_chat_template) for text in prompts]
        rows = [ids for ids in encoded for _ in range(n)]
        device = next(model.parameters()).device
        side, tokenizer.padding_side = tokenizer.padding_side, "left"
        batch = tokenizer.pad({"input_ids": rows}, return_tensors="pt").to(device)
        tokenizer.padding_side = side
        sampling = {"do_sample": True, "temperature": temperature, "top_p": self.top_p, "top_k": None} if temperature > 0 \
            else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        was_training = model.training
        model.eval()
        start = time.perf_counter()
        output = model.generate(**batch, max_new_tokens=self.max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                synced_gpus=synced_gpus, **sampling)
        seconds = time.perf_counter() - start
        model.train(was_training)
        prompt_length = batch["input_ids"].shape[1]
        completions = output[:, prompt_length:]
        eos_ids = _eos_ids(model, tokenizer)
        mask, truncated = completion_mask(completions, eos_ids)
        completions = completions.masked_fill(mask == 0, tokenizer.pad_token_id)
        texts = tokenizer.batch_decode(completions, skip_special_tokens=True)
        return Rollouts(torch.cat([batch["input_ids"], completions], dim=1),
                        torch.cat([batch["attention_mask"], mask.long()], dim=1), mask, prompt_length,
                        [text.strip() for text in texts], truncated, seconds)


def _eos_ids(model: torch.nn.Module, tokenizer) -> list[int]:
    """The ids that end a completion: the generation config's EOS ids, else the tokenizer's."""
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    return [int(i) for i in (eos if isinstance(eos, list | tuple) else [eos]) if i is not None]


def build_rollout(backend: str, **options) -> HFRollout:
    """The rollout backend ``backend`` (a key of :data:`ROLLOUT_BACKENDS`)."""
    if backend not in ROLLOUT_BACKENDS:
        raise ConfigError("rollout.backend", f"unknown backend {backend!r} (known: {', '.join(sorted(ROLLOUT_BACKENDS))})")
    return ROLLOUT_BACKENDS[backend](**options)

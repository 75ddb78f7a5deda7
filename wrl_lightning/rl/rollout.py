"""Rollouts: completions sampled from the live policy, as token tensors ready for the GRPO update.

Backends sit behind a registry keyed by ``rollout.backend``:

- ``hf``: transformers ``generate`` on the policy being trained (left-padded prompts through the chat
  template, ``synced_gpus`` under ZeRO-3 so ranks with shorter generations keep stepping). Simple and exact
  (the sampled tokens come from the very weights being updated); on a GPU it is the bottleneck of GRPO
  (~1k tokens/s for a 0.5B model on an H200), so large runs want a serving engine. Use it on CPU, for
  small policies, and whenever exactness matters more than speed.
- ``vllm`` (the ``vllm`` extra, CUDA GPUs only): one vLLM engine colocated on each rank's GPU, loaded from the
  policy's folder once and given the policy's current weights before every round (gathered parameter by
  parameter under ZeRO-3), so the samples still come from the weights being trained. Use it for policies of
  a billion parameters and more and for long completions, where generation dominates the step; give the
  engine a share of GPU memory (``rollout.gpu_memory_utilization``) that the training state leaves free.

A rollout is ``[left-padded prompt | completion]``: the completion mask covers each completion up to and
including its first EOS; a completion without EOS within ``max_new_tokens`` is *truncated*.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from wrl_lightning.errors import ConfigError
from wrl_lightning.models.chat import encode_prompt
from wrl_lightning.training.distributed import rank_and_world
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
        batch = self.prompt_batch(model, tokenizer, prompts, n)
        sampling = {"do_sample": True, "temperature": temperature, "top_p": self.top_p, "top_k": None} if temperature > 0 \
            else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        was_training = model.training
        model.eval()
        start = time.perf_counter()
        output = model.generate(**batch, max_new_tokens=self.max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                synced_gpus=synced_gpus, **sampling)
        seconds = time.perf_counter() - start
        model.train(was_training)
        return assemble(model, tokenizer, batch, output[:, batch["input_ids"].shape[1]:], seconds)

    def prompt_batch(self, model: torch.nn.Module, tokenizer, prompts: Sequence[str], n: int):
        """Each prompt's token ids ``n`` times in a row, left-padded, on the model's device."""
        encoded = [encode_prompt(tokenizer, text, self.system_prompt, self.use_chat_template) for text in prompts]
        side, tokenizer.padding_side = tokenizer.padding_side, "left"
        batch = tokenizer.pad({"input_ids": [ids for ids in encoded for _ in range(n)]}, return_tensors="pt")
        tokenizer.padding_side = side
        return batch.to(next(model.parameters()).device)


def assemble(model: torch.nn.Module, tokenizer, batch, completions: torch.Tensor, seconds: float) -> Rollouts:
    """Rollouts from a left-padded prompt ``batch`` and right-padded ``completions`` (tokens after EOS masked)."""
    mask, truncated = completion_mask(completions, _eos_ids(model, tokenizer))
    completions = completions.masked_fill(mask == 0, tokenizer.pad_token_id)
    texts = tokenizer.batch_decode(completions, skip_special_tokens=True)
    return Rollouts(torch.cat([batch["input_ids"], completions], dim=1),
                    torch.cat([batch["attention_mask"], mask.long()], dim=1), mask, batch["input_ids"].shape[1],
                    [text.strip() for text in texts], truncated, seconds)


@register_backend("vllm")
class VLLMRollout(HFRollout):
    """Sample completions with a vLLM engine colocated on this rank's GPU, synced to the live policy.

    The engine loads the policy's folder (``model.name_or_path``) on first use; before every round each
    parameter of the policy (gathered under ZeRO-3) is loaded into it with vLLM's ``load_weights``, and its
    prefix cache is reset. Written against vLLM's offline ``LLM`` API as TRL's colocate mode uses it (vLLM
    0.22-0.31). Sampling options as ``hf``, plus:

    Args:
        gpu_memory_utilization: share of this GPU the engine may take (weights + KV cache).
        max_model_len: the engine's context length (prompt + completion); None = the model's.
        enable_sleep_mode: free the engine's memory between rounds (vLLM sleep level 1), for tight GPUs.
    """

    def __init__(self, gpu_memory_utilization: float = 0.3, max_model_len: int | None = None,
                 enable_sleep_mode: bool = False, **sampling):
        super().__init__(**sampling)
        try:
            import vllm  # noqa: F401
        except ImportError as error:
            raise ConfigError("rollout.backend", "vllm needs the vllm extra on a CUDA machine: "
                                                 "pip install -e '.[vllm]' (or use rollout=hf)") from error
        if not 0 < gpu_memory_utilization <= 1:
            raise ConfigError("rollout.gpu_memory_utilization", f"must be in (0, 1], got {gpu_memory_utilization}")
        self.gpu_memory_utilization, self.max_model_len = gpu_memory_utilization, max_model_len
        self.enable_sleep_mode = enable_sleep_mode
        self.engine = None

    def _start(self, model: torch.nn.Module):
        """The engine, created once from the policy's folder with one process per rank (external launcher)."""
        if self.engine is None:
            from vllm import LLM

            rank, world = rank_and_world()
            for key, value in {"RANK": rank, "LOCAL_RANK": rank, "WORLD_SIZE": world, "MASTER_ADDR": "127.0.0.1",
                               "MASTER_PORT": 29500}.items():
                os.environ.setdefault(key, str(value))
            self.engine = LLM(model=model.name_or_path, tensor_parallel_size=1, seed=rank,
                              gpu_memory_utilization=self.gpu_memory_utilization, max_model_len=self.max_model_len,
                              enable_sleep_mode=self.enable_sleep_mode, distributed_executor_backend="external_launcher",
                              dtype=str(next(model.parameters()).dtype).removeprefix("torch."))
        return self.engine

    def sync_weights(self, model: torch.nn.Module) -> None:
        """Load the policy's current parameters into the engine and drop its cached prefixes."""
        engine = self._start(model)
        if self.enable_sleep_mode:
            engine.wake_up()
        target = engine.llm_engine.model_executor.driver_worker.model_runner.model
        for name, param in model.named_parameters():
            with _gathered(param):
                target.load_weights([(name, param.data)])
        engine.reset_prefix_cache()

    @torch.no_grad()
    def generate(self, model: torch.nn.Module, tokenizer, prompts: Sequence[str], n: int = 1,
                 synced_gpus: bool = False, temperature: float | None = None) -> Rollouts:
        """``n`` completions per prompt from the engine after syncing it to ``model``, group-contiguous."""
        from vllm import SamplingParams

        temperature = self.temperature if temperature is None else temperature
        self.sync_weights(model)
        batch = self.prompt_batch(model, tokenizer, prompts, n)
        rows = [ids[mask.bool()].tolist() for ids, mask in zip(batch["input_ids"], batch["attention_mask"], strict=True)]
        params = SamplingParams(n=1, temperature=temperature, top_p=self.top_p, max_tokens=self.max_new_tokens)
        start = time.perf_counter()
        outputs = self.engine.generate([{"prompt_token_ids": ids} for ids in rows], sampling_params=params, use_tqdm=False)
        seconds = time.perf_counter() - start
        if self.enable_sleep_mode:
            self.engine.sleep(level=1)
        tokens = [list(output.outputs[0].token_ids) for output in outputs]
        width = max(len(ids) for ids in tokens)
        completions = torch.tensor([ids + [tokenizer.pad_token_id] * (width - len(ids)) for ids in tokens],
                                   device=batch["input_ids"].device)
        return assemble(model, tokenizer, batch, completions, seconds)


def _gathered(param: torch.nn.Parameter):
    """A context in which ``param`` is whole: DeepSpeed ZeRO-3 gathers its shards, anything else is a no-op."""
    if hasattr(param, "ds_id"):
        import deepspeed

        return deepspeed.zero.GatheredParameters([param])
    return nullcontext()


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

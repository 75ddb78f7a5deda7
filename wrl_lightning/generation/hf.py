"""Local transformers causal LM as a generator: chat template, length-sorted left-padded batches.

It also reads next-token log-probabilities of candidate tokens after a prompt (one forward pass, no
generation), which LLM judges use to score a verdict as P("1") against P("0").

Sampling is reproducible per request: every row draws its tokens from its own ``torch.Generator`` seeded by
the request's seed (or one derived from ``seed`` and its ``request_id``), so a response does not depend on
which other requests share its batch or on the order they came in.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from wrl_lightning.errors import ConfigError
from wrl_lightning.generation.base import GenerationRequest, Generator, NextTokenScorer
from wrl_lightning.models.chat import encode_prompt, position_ids
from wrl_lightning.models.loading import load_causal_lm, load_tokenizer

log = logging.getLogger(__name__)

DTYPES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16", "float16": "float16", "fp16": "float16"}


def request_seed(request: GenerationRequest, base_seed: int) -> int:
    """The request's own seed, or a stable one derived from ``base_seed`` and its ``request_id``."""
    if request.seed is not None:
        return int(request.seed)
    digest = hashlib.sha256(f"{base_seed}:{request.request_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def pick_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def pick_dtype(dtype: str, device: str):
    """``auto`` -> bf16 on GPU, fp32 on CPU (bf16 is ~25x slower on CPUs without native support)."""
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if dtype not in DTYPES:
        raise ConfigError("generator.dtype", f"unknown dtype {dtype!r} (known: auto, {', '.join(DTYPES)})")
    return getattr(torch, DTYPES[dtype])


def make_row_sampler(seeds: list[int], temperature: float, top_p: float):
    """A logits processor sampling each row with its own generator; it returns a score row that is 0 at
    the sampled token and -inf elsewhere, so greedy decoding emits exactly that token."""
    import torch
    from transformers import LogitsProcessor

    class RowSampler(LogitsProcessor):
        def __init__(self) -> None:
            self.generators: list[torch.Generator] = []

        def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
            if not self.generators:
                self.generators = [torch.Generator(device=scores.device).manual_seed(s) for s in seeds]
            probs = torch.softmax(scores.float() / temperature, dim=-1)
            if top_p < 1.0:
                sorted_probs, order = probs.sort(dim=-1, descending=True)
                outside = sorted_probs.cumsum(dim=-1) - sorted_probs > top_p  # the top token always stays
                probs = probs.scatter(-1, order, sorted_probs.masked_fill(outside, 0.0))
            tokens = torch.cat([torch.multinomial(row, 1, generator=g) for row, g in zip(probs, self.generators, strict=True)])
            chosen = torch.full_like(scores, float("-inf"))
            return chosen.scatter(-1, tokens[:, None], 0.0)

    return RowSampler()


class HFGenerator(Generator, NextTokenScorer):
    """Answer requests with a transformers causal LM (hub id, local folder or ``embedded:NAME``)."""

    def __init__(
        self,
        model: str,
        max_new_tokens: int = 256,
        temperature: float = 0.7,
        top_p: float = 0.95,
        batch_size: int = 8,
        seed: int = 0,
        device: str = "auto",
        dtype: str = "auto",
        system_prompt: str | None = None,
        use_chat_template: bool = True,
        trust_remote_code: bool = False,
    ) -> None:
        if max_new_tokens < 1:
            raise ConfigError("generator.max_new_tokens", f"must be at least 1, got {max_new_tokens}")
        if batch_size < 1:
            raise ConfigError("generator.batch_size", f"must be at least 1, got {batch_size}")
        if temperature < 0:
            raise ConfigError("generator.temperature", f"must be >= 0 (0 = greedy), got {temperature}")
        if not 0 < top_p <= 1:
            raise ConfigError("generator.top_p", f"must be in (0, 1], got {top_p}")
        self.max_new_tokens, self.temperature, self.top_p = max_new_tokens, temperature, top_p
        self.batch_size, self.seed = batch_size, seed
        self.system_prompt, self.use_chat_template = system_prompt, use_chat_template
        self.device = pick_device(device)
        self.tokenizer = load_tokenizer(model, trust_remote_code=trust_remote_code)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = load_causal_lm(model, trust_remote_code=trust_remote_code, dtype=pick_dtype(dtype, self.device))
        self.model.to(self.device).eval()

    def encode(self, prompt: str) -> list[int]:
        """Token ids for one user prompt: its chat template with a generation prompt, if the tokenizer has one
        (the template places any special tokens), else the raw text with the tokenizer's special tokens."""
        return encode_prompt(self.tokenizer, prompt, self.system_prompt, self.use_chat_template)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[str]:
        """One response per request, in request order; batches are formed from length-sorted prompts."""
        encoded = [self.encode(request.prompt) for request in requests]

        def answer(chunk: list[int]) -> list[str]:
            return self._generate_batch([encoded[i] for i in chunk], [request_seed(requests[i], self.seed) for i in chunk])

        return self._by_length(encoded, answer, "generated %d/%d responses")

    def _by_length(self, encoded: Sequence[list[int]], run: Callable[[list[int]], list[Any]], progress: str) -> list[Any]:
        """``run(chunk)`` on batches of row indices sorted longest first (``batch_size`` each), its results put
        back in input order; ``progress`` (``done``, ``total``) is logged after each batch."""
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]), reverse=True)
        results: list[Any] = [None] * len(encoded)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            for index, result in zip(chunk, run(chunk), strict=True):
                results[index] = result
            log.info(progress, min(start + self.batch_size, len(order)), len(order))
        return results

    def token_ids_after(self, prefix: str, candidates: Sequence[str]) -> list[int]:
        """The one token id each candidate adds to ``prefix`` (ValueError when a candidate is not one token there)."""
        base = self.tokenizer(prefix, add_special_tokens=False)["input_ids"]
        ids = []
        for candidate in candidates:
            full = self.tokenizer(prefix + candidate, add_special_tokens=False)["input_ids"]
            if len(full) != len(base) + 1 or full[: len(base)] != base:
                pieces = self.tokenizer.convert_ids_to_tokens(full)
                raise ValueError(f"{candidate!r} after {prefix!r} is not a single token for this tokenizer (it reads {pieces})")
            ids.append(full[-1])
        return ids

    def next_token_logprobs(self, prompts: Sequence[str], prefix: str, token_ids: Sequence[int]) -> list[list[float]]:
        """Per prompt, log P(token | chat-templated prompt + ``prefix``) for each of ``token_ids``: one forward pass
        per length-sorted, left-padded batch."""
        prefix_ids = self.tokenizer(prefix, add_special_tokens=False)["input_ids"] if prefix else []
        encoded = [self.encode(prompt) + prefix_ids for prompt in prompts]
        return self._by_length(encoded, lambda chunk: self._logprobs_batch([encoded[i] for i in chunk], list(token_ids)),
                               "scored %d/%d prompts")

    def _logprobs_batch(self, input_ids: list[list[int]], token_ids: list[int]) -> list[list[float]]:
        import torch

        batch = self.tokenizer.pad({"input_ids": input_ids}, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            logits = self.model(**batch, position_ids=position_ids(batch["attention_mask"]), logits_to_keep=1).logits[:, -1, :]  # last position only
        return torch.log_softmax(logits.float(), dim=-1)[:, token_ids].tolist()

    def _generate_batch(self, input_ids: list[list[int]], seeds: list[int]) -> list[str]:
        import torch

        batch = self.tokenizer.pad({"input_ids": input_ids}, return_tensors="pt").to(self.device)
        options: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "do_sample": False}
        if self.temperature > 0:
            options["logits_processor"] = [make_row_sampler(seeds, self.temperature, self.top_p)]
        with torch.inference_mode():
            output = self.model.generate(
                **batch,
                **options,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        return [text.strip() for text in self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]

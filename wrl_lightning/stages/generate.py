"""``stage=generate``: answer a prompt file with any generator and write the answers in IFEval's format.

Reads prompts with :func:`~wrl_lightning.rl.prompts.load_rl_prompts` (``generate.format``: builtin | prompts
| paper | ifeval), asks ``cfg.generator`` for one response each, and writes ``responses.jsonl``: one row per
prompt, ``{"id", ["key",] "prompt", "response"}``, where ``prompt`` is the input's prompt text unchanged,
so ``stage=ifeval ifeval.responses=.../responses.jsonl`` matches every answer to its input row (IFEval reads
``prompt`` and ``response`` only). ``key`` is the input's own key (``ifeval`` / ``paper`` formats).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from omegaconf import DictConfig

from wrl_lightning.generation.base import GenerationRequest
from wrl_lightning.rl.prompts import PROMPT_READERS, RLPrompt, load_rl_prompts
from wrl_lightning.stages.pairs import build_generator
from wrl_lightning.utils.config import require_choice, require_file, require_int
from wrl_lightning.utils.files import write_jsonl
from wrl_lightning.utils.run import output_dir

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Read the prompts, generate one response each, write ``responses.jsonl``; return length statistics."""
    fmt = require_choice(cfg, "generate.format", PROMPT_READERS)
    path = None if fmt == "builtin" else require_file(cfg, "generate.input")
    limit = require_int(cfg, "generate.limit", minimum=1, optional=True)
    out = output_dir(cfg)

    prompts = load_rl_prompts(path, fmt, key="generate.format")[:limit]
    texts: dict[str, str] = {}
    for prompt in prompts:
        if prompt.text in texts:
            log.warning("prompts %r and %r have the same text: stage=ifeval matches responses by prompt text and "
                        "rejects a second response to one prompt", texts[prompt.text], prompt.id)
        texts.setdefault(prompt.text, prompt.id)
    generator = build_generator(cfg)
    requests = [GenerationRequest(prompt=p.text, request_id=p.id, requirements=p.requirements) for p in prompts]
    started = time.perf_counter()
    responses = generator.generate(requests)
    seconds = time.perf_counter() - started
    if len(responses) != len(prompts):  # a backend bug, not a user error
        raise RuntimeError(f"{type(generator).__name__} returned {len(responses)} responses for {len(prompts)} prompts")

    target = out / "responses.jsonl"
    write_jsonl(target, (_row(prompt, response) for prompt, response in zip(prompts, responses, strict=True)))
    n = len(responses)
    words = [len(response.split()) for response in responses]
    n_empty = sum(not response.strip() for response in responses)
    name = type(generator).__name__.removesuffix("Generator").lower()
    log.info("%d responses (%d empty, %.1f words on average) by %s in %.1f s -> %s", n, n_empty, sum(words) / n,
             name, seconds, target)
    return {
        "n_prompts": n,
        "n_empty": n_empty,
        "response_words": {"mean": sum(words) / n, "max": max(words)},
        "response_chars": {"mean": sum(len(response) for response in responses) / n},
        "generate_seconds": seconds,
        "generator": name,
        "format": fmt,
        "input": str(path) if path else None,
        "responses": str(target),
    }


def _row(prompt: RLPrompt, response: str) -> dict[str, Any]:
    """One output row: the prompt text exactly as read, so IFEval finds its input row."""
    row: dict[str, Any] = {"id": prompt.id}
    if "key" in prompt.meta:
        row["key"] = prompt.meta["key"]
    return {**row, "prompt": prompt.text, "response": response}

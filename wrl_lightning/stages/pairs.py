"""``stage=pairs``: labelled RM pairs and WEval groups, generated from prompts or imported from group files.

``pairs.format=prompts``: each prompt is answered once per keep-mask of ``pairs.strategy`` by the configured
generator, giving one WEval group per prompt. ``levels`` / ``canonical``: the groups of an existing file are
used as they are (no generation). Groups are split by prompt, cut into pairs by ``pairs.pairing``, checked
with rule checkers where verifiable, and written as ``pairs_train.jsonl``, ``pairs_eval.jsonl`` and
``weval_groups.jsonl`` (eval prompts only).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from wrl_lightning.data.records import WEvalGroup
from wrl_lightning.errors import ConfigError
from wrl_lightning.generation.base import Generator
from wrl_lightning.models.loading import load_tokenizer
from wrl_lightning.pairs.build import generate_groups, plan_masks
from wrl_lightning.pairs.pairing import SELECTORS, select_pairs
from wrl_lightning.pairs.split import split_by_prompt
from wrl_lightning.pairs.stats import noise_stats, pair_stats, tokenizer_counter
from wrl_lightning.pairs.strategies import STRATEGIES
from wrl_lightning.pairs.verify import drop_noisy, verify_pairs
from wrl_lightning.requirements.prompts import load_builtin_prompts, load_prompt_file
from wrl_lightning.utils.config import require_choice, require_file, require_int
from wrl_lightning.utils.files import write_jsonl
from wrl_lightning.utils.loggers import report_metrics
from wrl_lightning.utils.run import output_dir
from wrl_lightning.weval.importers import load_groups

log = logging.getLogger(__name__)

#: Group files whose responses already carry ``kept`` flags (read by the WEval importers).
GROUP_FORMATS = ("levels", "canonical")


def build_generator(cfg: DictConfig) -> Generator:
    """Instantiate ``cfg.generator`` (a ``_target_`` config)."""
    if "_target_" not in (cfg.get("generator") or {}):
        raise ConfigError("generator", "choose a generator, e.g. generator=edit (see conf/generator/)")
    generator = instantiate(cfg.generator, _convert_="all")
    if not isinstance(generator, Generator):
        raise ConfigError("generator._target_", f"{cfg.generator._target_} does not build a Generator")
    return generator


def generated_groups(cfg: DictConfig, limit: int | None) -> tuple[list[WEvalGroup], dict[str, str], str]:
    """Groups answered by the generator, their seed prompts by group id, and the pairs' source name."""
    strategy = require_choice(cfg, "pairs.strategy", STRATEGIES)
    subsets = require_int(cfg, "pairs.subsets", minimum=1)
    if cfg.pairs.input is None:
        records = load_builtin_prompts()
    else:
        records = load_prompt_file(require_file(cfg, "pairs.input"))
    records = records[:limit]
    generator = build_generator(cfg)
    plans = plan_masks(records, strategy, int(cfg.pairs.seed), subsets)
    groups = generate_groups(records, plans, generator)
    name = type(generator).__name__.removesuffix("Generator").lower()
    return groups, {record.id: record.prompt for record in records}, f"{strategy}/{name}"


def run(cfg: DictConfig) -> dict[str, Any]:
    """Build, verify, split and write the pairs; return their statistics."""
    fmt = require_choice(cfg, "pairs.format", ("prompts", *GROUP_FORMATS))
    pairing = require_choice(cfg, "pairs.pairing", SELECTORS)
    limit = require_int(cfg, "pairs.limit", minimum=1, optional=True)
    eval_fraction = float(cfg.pairs.eval_fraction)
    if not 0 <= eval_fraction < 1:
        raise ConfigError("pairs.eval_fraction", f"must be in [0, 1), got {eval_fraction}")
    out = output_dir(cfg)

    started = time.perf_counter()
    if fmt == "prompts":
        groups, prompts, source = generated_groups(cfg, limit)
    else:
        groups = load_groups(require_file(cfg, "pairs.input"), fmt)[:limit]
        prompts, source = {group.group_id: group.prompt for group in groups}, fmt
    seconds = time.perf_counter() - started
    held_out = split_by_prompt(prompts, eval_fraction, int(cfg.pairs.seed))
    train_groups = [group for group in groups if group.group_id not in held_out]
    eval_groups = [group for group in groups if group.group_id in held_out]
    train, evals = select_pairs(train_groups, pairing, source), select_pairs(eval_groups, pairing, source)

    if cfg.pairs.verify:
        verify_pairs(train + evals)
    noise = noise_stats(train + evals)
    before = len(train) + len(evals)
    if cfg.pairs.filter_noisy:
        train, evals = drop_noisy(train), drop_noisy(evals)

    write_jsonl(out / "pairs_train.jsonl", (pair.to_dict() for pair in train))
    write_jsonl(out / "pairs_eval.jsonl", (pair.to_dict() for pair in evals))
    write_jsonl(out / "weval_groups.jsonl", (group.to_dict() for group in eval_groups))
    tokens = tokenizer_counter(load_tokenizer(cfg.pairs.tokenizer)) if cfg.pairs.tokenizer else None
    n_responses = sum(len(group.responses) for group in groups)
    sizes: dict[str, int] = {}
    for group in eval_groups:
        sizes[f"{group.size}c"] = sizes.get(f"{group.size}c", 0) + 1
    log.info("%d train / %d eval pairs from %d groups (%s) in %s", len(train), len(evals), len(groups), source, out)
    metrics = {
        "format": fmt,
        "source": source,
        "pairing": pairing,
        "groups": {"train": len(train_groups), "eval": len(eval_groups)},
        "responses": n_responses,
        "build_seconds": seconds,
        "responses_per_second": n_responses / seconds if seconds else float("inf"),
        "pairs_train": len(train),
        "pairs_eval": len(evals),
        "pairs_filtered": before - len(train) - len(evals),
        "pairs": pair_stats(train + evals, tokens),
        "label_noise": noise,
        "weval_groups": {"count": len(eval_groups), "by_size": dict(sorted(sizes.items()))},
    }
    report_metrics(cfg, metrics)
    return metrics

"""``stage=ifeval``: score responses to IFEval prompts with the rule checkers, strict and loose.

Writes IFEval's ``eval_results_strict.jsonl`` / ``eval_results_loose.jsonl`` (one row per scored prompt:
``prompt``, ``response``, ``instruction_id_list``, ``follow_all_instructions``, ``follow_instruction_list``)
and, when some prompts have no response, ``missing_responses.jsonl`` (``key``, ``prompt``).
"""

from __future__ import annotations

import logging

from omegaconf import DictConfig

from wrl_lightning.requirements.ifeval_eval import MISSING_MODES, evaluate, read_inputs, read_responses
from wrl_lightning.utils.config import require_choice, require_file
from wrl_lightning.utils.files import write_jsonl
from wrl_lightning.utils.loggers import report_metrics
from wrl_lightning.utils.run import output_dir

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict:
    """Read inputs and responses, score them, write the result files; return flat metrics."""
    input_path = require_file(cfg, "ifeval.input")
    responses_path = require_file(cfg, "ifeval.responses")
    missing = require_choice(cfg, "ifeval.missing", MISSING_MODES)
    out = output_dir(cfg)

    inputs = read_inputs(input_path)
    result = evaluate(inputs, read_responses(responses_path), missing=missing, source=str(responses_path))
    write_jsonl(out / "eval_results_strict.jsonl", result.strict_rows)
    write_jsonl(out / "eval_results_loose.jsonl", result.loose_rows)
    if result.missing:
        write_jsonl(out / "missing_responses.jsonl", ({"key": i.key, "prompt": i.prompt} for i in result.missing))
        verb = "scored as failures" if missing == "fail" else "left out"
        log.warning("%d of %d prompts have no response (%s); listed in %s", len(result.missing), len(inputs), verb,
                    out / "missing_responses.jsonl")
    m = result.metrics
    log.info("IFEval: prompt strict %.4f, instruction strict %.4f, prompt loose %.4f, instruction loose %.4f",
             m["prompt_level_strict"], m["instruction_level_strict"], m["prompt_level_loose"], m["instruction_level_loose"])
    metrics = {**m, "missing_mode": missing, "input": str(input_path), "responses": str(responses_path)}
    report_metrics(cfg, metrics)
    return metrics

"""IFEval evaluation with the rule checkers: read IFEval's files, score strict and loose, aggregate.

Semantics follow IFEval's ``evaluation_lib``: an instruction is followed when the response is non-empty
and the reference rule accepts it (strict), or accepts any loose variant (loose); a prompt is followed when
all its instructions are. Prompt-level accuracy averages over prompts, instruction-level over instructions.

Prompts without a response are handled by ``missing``: ``fail`` scores them as an empty response (every
instruction fails; the denominators stay the full input), ``skip`` leaves them out of every metric (only
answered prompts are scored), ``error`` stops. The reference itself has no such choice: it needs a
response for every prompt.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from wrl_lightning.data.io import iter_rows
from wrl_lightning.data.records import Requirement, Where
from wrl_lightning.errors import RecordError
from wrl_lightning.requirements.checkers import CHECKERS, loose_variants, predicate, validate_requirement

MISSING_MODES = ("fail", "skip", "error")


@dataclass
class IFEvalInput:
    """One IFEval prompt with its instructions (kwargs as the reference gets them: ``None`` values dropped)."""

    key: Any
    prompt: str
    instruction_id_list: list[str]
    kwargs: list[dict[str, Any]]

    def requirements(self) -> list[Requirement]:
        """The instructions as verifiable Requirements."""
        return [
            Requirement(text=instruction_id, type=CHECKERS[instruction_id].type, checker=instruction_id, kwargs=kwargs)
            for instruction_id, kwargs in zip(self.instruction_id_list, self.kwargs, strict=True)
        ]


def input_from_row(row: dict[str, Any], where: Where) -> IFEvalInput:
    """Parse and validate one input row (``key``, ``prompt``, ``instruction_id_list``, ``kwargs``)."""
    prompt = row.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise where.error("prompt", "missing or empty")
    ids = row.get("instruction_id_list")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise where.error("instruction_id_list", "expected a non-empty list of instruction ids")
    kwargs = row.get("kwargs")
    if not isinstance(kwargs, list) or len(kwargs) != len(ids):
        raise where.error("kwargs", f"expected a list of {len(ids)} objects (one per instruction)")
    cleaned = []
    for i, (instruction_id, args) in enumerate(zip(ids, kwargs, strict=True)):
        if not isinstance(args, dict):
            raise where.error(f"kwargs[{i}]", f"expected an object, got {type(args).__name__}")
        args = {name: value for name, value in args.items() if value is not None}
        try:
            validate_requirement(Requirement(text=instruction_id, checker=instruction_id, kwargs=args), where)
        except RecordError as err:
            field = "instruction_id_list" if err.field == "checker" else err.field.replace("kwargs", f"kwargs[{i}]", 1)
            raise where.error(f"{field}", err.problem) from None
        cleaned.append(args)
    key = row.get("key", where.line)
    if isinstance(key, bool) or not isinstance(key, int | str):
        raise where.error("key", f"expected an integer or a string, got {key!r}")
    return IFEvalInput(key=key, prompt=prompt, instruction_id_list=ids, kwargs=cleaned)


def read_inputs(path: str | os.PathLike) -> list[IFEvalInput]:
    """IFEval input rows; duplicate prompts are an error (responses are matched by prompt text)."""
    inputs, seen = [], {}
    for line, row in iter_rows(path):
        where = Where(str(path), line)
        item = input_from_row(row, where)
        if item.prompt in seen:
            raise where.error("prompt", f"duplicate of line {seen[item.prompt]}")
        seen[item.prompt] = line
        inputs.append(item)
    return inputs


def read_responses(path: str | os.PathLike) -> dict[str, str]:
    """``prompt -> response`` from rows with ``prompt`` and ``response``; a repeated prompt is an error."""
    responses, lines = {}, {}
    for line, row in iter_rows(path):
        where = Where(str(path), line)
        prompt, response = row.get("prompt"), row.get("response")
        if not isinstance(prompt, str) or not prompt.strip():
            raise where.error("prompt", "missing or empty")
        if not isinstance(response, str):
            raise where.error("response", "missing or not a string")
        if prompt in responses:
            raise where.error("prompt", f"a second response to the prompt of line {lines[prompt]}")
        responses[prompt], lines[prompt] = response, line
    return responses


def follows(item: IFEvalInput, response: str) -> tuple[list[bool], list[bool]]:
    """Per instruction: (strict, loose) verdicts."""
    return follows_requirements(item.requirements(), item.prompt, response)


def follows_requirements(requirements: list[Requirement], prompt: str, response: str) -> tuple[list[bool], list[bool]]:
    """Per verifiable requirement: (strict, loose) verdicts with IFEval's semantics (an empty response fails)."""
    variants = loose_variants(response)
    strict, loose = [], []
    for requirement in requirements:
        rule = predicate(requirement, prompt)
        strict.append(bool(response.strip()) and rule(response))
        loose.append(any(text.strip() and rule(text) for text in variants))
    return strict, loose


def _row(item: IFEvalInput, response: str, flags: list[bool]) -> dict[str, Any]:
    return {
        "prompt": item.prompt,
        "response": response,
        "instruction_id_list": item.instruction_id_list,
        "follow_all_instructions": all(flags),
        "follow_instruction_list": flags,
    }


def _accuracy(rows: list[dict[str, Any]]) -> dict[str, float]:
    flags = [flag for row in rows for flag in row["follow_instruction_list"]]
    by_id: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        for instruction_id, flag in zip(row["instruction_id_list"], row["follow_instruction_list"], strict=True):
            by_id[instruction_id].append(flag)
    nan = float("nan")
    return {
        "prompt_level": sum(row["follow_all_instructions"] for row in rows) / len(rows) if rows else nan,
        "instruction_level": sum(flags) / len(flags) if flags else nan,
        **{f"by_instruction/{i}": sum(v) / len(v) for i, v in sorted(by_id.items())},
    }


@dataclass
class IFEvalResult:
    """Output rows per mode, flat metrics, and the inputs that had no response."""

    strict_rows: list[dict[str, Any]]
    loose_rows: list[dict[str, Any]]
    metrics: dict[str, Any]
    missing: list[IFEvalInput]


def evaluate(inputs: list[IFEvalInput], responses: dict[str, str], missing: str = "fail",
             source: str = "responses") -> IFEvalResult:
    """Score ``responses`` against ``inputs`` (see the module docstring for ``missing``)."""
    if missing not in MISSING_MODES:
        raise ValueError(f"missing must be one of {MISSING_MODES}, got {missing!r}")
    absent = [item for item in inputs if item.prompt not in responses]
    if absent and missing == "error":
        raise RecordError(source, None, "prompt", f"no response for {len(absent)} input prompt(s), first key {absent[0].key!r}")
    strict_rows, loose_rows = [], []
    for item in inputs:
        if item.prompt not in responses and missing == "skip":
            continue
        response = responses.get(item.prompt, "")
        strict, loose = follows(item, response)
        strict_rows.append(_row(item, response, strict))
        loose_rows.append(_row(item, response, loose))
    known = {item.prompt for item in inputs}
    metrics: dict[str, Any] = {}
    for mode, rows in (("strict", strict_rows), ("loose", loose_rows)):
        for name, value in _accuracy(rows).items():
            head, _, tail = name.partition("/")
            metrics[f"{head}_{mode}" + (f"/{tail}" if tail else "")] = value
    metrics.update(
        n_prompts=len(inputs),
        n_scored=len(strict_rows),
        n_instructions=sum(len(row["instruction_id_list"]) for row in strict_rows),
        n_missing=len(absent),
        n_unmatched_responses=sum(1 for prompt in responses if prompt not in known),
    )
    return IFEvalResult(strict_rows, loose_rows, metrics, absent)

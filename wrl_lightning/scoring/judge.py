"""Generative judges: an LLM asked once per (response, requirement), its answer parsed to a number.

- ``judge_binary``: answers ``[[1]]`` / ``[[0]]`` (the paper's LLM-judge baseline); score = mean verdict.
- ``critic``: WritingBench-Critic style, JSON with an integer ``"score"`` from 1 to 10; score = mean.

Any generator serves (``hf`` for a local/hub model, ``http`` for a vLLM or other OpenAI-compatible server).
Unparseable answers score ``unparsed`` (0, as in the paper) and are counted in ``stats``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence

from wrl_lightning.data.records import WEvalGroup
from wrl_lightning.generation.base import GenerationRequest, Generator
from wrl_lightning.models.templates import CRITIC_TEMPLATES, JUDGE_BINARY_TEMPLATES, get_template
from wrl_lightning.scoring.base import PerRequirementScorer

_THINK_END = re.compile(r"</think>\s*", re.DOTALL)


def _after_thinking(text: str) -> str:
    """The answer part of a reasoning model's output (after ``</think>``)."""
    parts = _THINK_END.split(text, maxsplit=1)
    return parts[-1]


def parse_binary(text: str) -> float | None:
    """``[[1]]`` -> 1.0, ``[[0]]`` -> 0.0 (first bracketed verdict), else None."""
    match = re.search(r"\[\[\s*([01])\s*\]\]", _after_thinking(text))
    return float(match.group(1)) if match else None


def parse_critic(text: str) -> float | None:
    """The integer after ``"score":`` (1-10), else None."""
    match = re.search(r'"score"\s*:\s*"?(\d+)', _after_thinking(text))
    if not match:
        return None
    value = int(match.group(1))
    return float(value) if 1 <= value <= 10 else None


PARSERS: dict[str, Callable[[str], float | None]] = {"binary": parse_binary, "critic": parse_critic}
TEMPLATE_SETS = {"binary": JUDGE_BINARY_TEMPLATES, "critic": CRITIC_TEMPLATES}


def ask_judge(
    generator: Generator,
    template: str,
    parse: Callable[[str], float | None],
    items: Sequence[tuple[str, str, str]],
) -> tuple[list[float | None], dict[str, float]]:
    """Ask the judge about each ``(response, requirement, prompt)`` item (every distinct question once).

    Returns the parsed answer per item (None: no verdict found) and ``n_questions``, ``n_unparsed``,
    ``unparsed_rate`` over the distinct questions. Shared by :class:`JudgeScorer` and the RL judge reward.
    """
    questions = [
        template.format(response=response, requirement=requirement, prompt=prompt)
        for response, requirement, prompt in items
    ]
    unique = list(dict.fromkeys(questions))
    requests = [GenerationRequest(prompt=q, request_id=hashlib.sha1(q.encode()).hexdigest()) for q in unique]
    answers = generator.generate(requests) if requests else []
    parsed = {q: parse(answer) for q, answer in zip(unique, answers, strict=True)}
    failures = sum(value is None for value in parsed.values())
    rate = failures / max(1, len(unique))
    stats = {"n_questions": len(unique), "n_unparsed": failures, "unparsed_rate": rate}
    return [parsed[q] for q in questions], stats


class JudgeScorer(PerRequirementScorer):
    """Ask the judge model one question per (response, requirement); parse with ``parser``.

    ``generator`` is a generator, or a factory taking ``model=`` (a partial config) that builds one for
    ``model`` — so ``scorer.model=...`` picks the judge whatever the backend.
    """

    def __init__(self, generator: Generator | Callable[..., Generator], model: str | None = None, parser: str = "binary",
                 template: str | None = None, unparsed: float = 0.0):
        if parser not in PARSERS:
            raise ValueError(f"parser must be one of {sorted(PARSERS)}, got {parser!r}")
        if not isinstance(generator, Generator):
            generator = generator(model=model)
        self.generator, self.parse, self.unparsed = generator, PARSERS[parser], unparsed
        templates = TEMPLATE_SETS[parser]
        self.template = get_template(templates, template or next(iter(templates)), "scorer.template")
        self.stats: dict[str, float] = {}

    def score_items(self, groups: Sequence[WEvalGroup], items: list[tuple[int, int, int]]) -> list[float]:
        questions = [
            (groups[g].responses[r].text, groups[g].requirements[q].text, groups[g].prompt)
            for g, r, q in items
        ]
        verdicts, self.stats = ask_judge(self.generator, self.template, self.parse, questions)
        return [self.unparsed if value is None else value for value in verdicts]

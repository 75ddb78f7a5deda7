"""Generative judges: an LLM asked once per (response, requirement), its verdict read as a number.

- ``judge_binary``: answers ``[[1]]`` / ``[[0]]`` (the paper's LLM-judge baseline); score = mean verdict.
- ``critic``: WritingBench-Critic style, JSON with an integer ``"score"`` from 1 to 10; score = mean.

How a verdict is read is the ``parser`` (registry :data:`VERDICT_READERS`):

- ``binary`` / ``critic``: generate an answer and parse its text (any generator, served ones included).
  Answers without a verdict score ``unparsed`` (0, as in the paper) and are counted in ``stats``.
- ``logprob``: no generation; one forward pass over the judge prompt (chat template, generation prompt, then
  the answer's ``prefix``, ``[[``) reads P("1") and P("0") at the verdict position; the score is their
  two-way softmax, P("1") / (P("1") + P("0")) — continuous, never unparsed, far fewer ties. Local models only.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence

from wrl_lightning.data.records import WEvalGroup
from wrl_lightning.errors import ConfigError
from wrl_lightning.generation.base import GenerationRequest, Generator, NextTokenScorer
from wrl_lightning.models.templates import CRITIC_TEMPLATES, JUDGE_BINARY_TEMPLATES, get_template
from wrl_lightning.scoring.base import PerRequirementScorer

_THINK_END = re.compile(r"</think>\s*", re.DOTALL)

#: Verdicts per item (None: no verdict found) and ``n_questions``, ``n_unparsed``, ``unparsed_rate`` (and
#: what else the reader measures) over the distinct questions.
Verdicts = tuple[list[float | None], dict[str, float]]


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


def ask_distinct(questions: Sequence[str], read: Callable[[list[str]], list[float | None]]) -> Verdicts:
    """Read every distinct question once with ``read``; the verdict per question and the parse statistics."""
    unique = list(dict.fromkeys(questions))
    values = dict(zip(unique, read(unique) if unique else [], strict=True))
    failures = sum(value is None for value in values.values())
    stats = {"n_questions": len(unique), "n_unparsed": failures, "unparsed_rate": failures / max(1, len(unique))}
    return [values[q] for q in questions], stats


def judge_questions(template: str, items: Sequence[tuple[str, str, str]]) -> list[str]:
    """The judge prompt of each ``(response, requirement, prompt)`` item."""
    return [template.format(response=response, requirement=requirement, prompt=prompt) for response, requirement, prompt in items]


def ask_judge(
    generator: Generator,
    template: str,
    parse: Callable[[str], float | None],
    items: Sequence[tuple[str, str, str]],
) -> Verdicts:
    """Ask the judge about each ``(response, requirement, prompt)`` item (every distinct question once) and
    parse its answers. Shared by :class:`JudgeScorer` and the RL judge reward."""

    def read(unique: list[str]) -> list[float | None]:
        requests = [GenerationRequest(prompt=q, request_id=hashlib.sha1(q.encode()).hexdigest()) for q in unique]
        return [parse(answer) for answer in generator.generate(requests)]

    return ask_distinct(judge_questions(template, items), read)


class TextVerdicts:
    """Generate the judge's answer and parse the verdict out of its text (any generator)."""

    def __init__(self, generator: Generator, parse: Callable[[str], float | None], templates: dict[str, str]):
        self.generator, self.parse, self.templates = generator, parse, templates

    def __call__(self, template: str, items: Sequence[tuple[str, str, str]]) -> Verdicts:
        return ask_judge(self.generator, template, self.parse, items)


class LogprobVerdicts:
    """P("1") / (P("1") + P("0")) at the verdict position, after the answer's ``prefix`` (no generation).

    ``stats`` adds ``verdict_mass``: the mean P("1") + P("0") over the whole vocabulary — how surely the judge
    would have answered with a verdict at all (low values: the prompt or prefix does not fit the model).
    """

    templates = JUDGE_BINARY_TEMPLATES

    def __init__(self, generator: Generator, prefix: str = "[[", choices: tuple[str, str] = ("1", "0")):
        if not isinstance(generator, NextTokenScorer):
            raise ConfigError("scorer.parser", f"logprob reads the judge's next-token probabilities, which "
                                               f"{type(generator).__name__} does not give; use a local model (generator "
                                               "hf, e.g. scorer.model=embedded:smollm2) or scorer.parser=binary")
        try:
            self.token_ids = generator.token_ids_after(prefix, choices)
        except ValueError as err:
            raise ConfigError("scorer.prefix", str(err)) from None
        self.generator, self.prefix = generator, prefix

    def __call__(self, template: str, items: Sequence[tuple[str, str, str]]) -> Verdicts:
        masses: list[float] = []

        def read(unique: list[str]) -> list[float | None]:
            rows = self.generator.next_token_logprobs(unique, self.prefix, self.token_ids)
            masses.extend(math.exp(yes) + math.exp(no) for yes, no in rows)
            return [two_way_softmax(yes, no) for yes, no in rows]

        verdicts, stats = ask_distinct(judge_questions(template, items), read)
        return verdicts, {**stats, "verdict_mass": sum(masses) / len(masses) if masses else 0.0}


def two_way_softmax(yes: float, no: float) -> float:
    """exp(yes) / (exp(yes) + exp(no)) for two log-probabilities, without overflow."""
    return 1.0 / (1.0 + math.exp(no - yes)) if no - yes < 700 else 0.0


#: Verdict readers by ``scorer.parser``: ``(generator, prefix) -> reader`` (text readers need no prefix).
VERDICT_READERS: dict[str, Callable[[Generator, str], TextVerdicts | LogprobVerdicts]] = {
    "binary": lambda generator, prefix: TextVerdicts(generator, parse_binary, JUDGE_BINARY_TEMPLATES),
    "critic": lambda generator, prefix: TextVerdicts(generator, parse_critic, CRITIC_TEMPLATES),
    "logprob": lambda generator, prefix: LogprobVerdicts(generator, prefix),
}


class JudgeScorer(PerRequirementScorer):
    """Ask the judge model one question per (response, requirement); read the verdict with ``parser``.

    ``generator`` is a generator, or a factory taking ``model=`` (a partial config) that builds one for
    ``model`` — so ``scorer.model=...`` picks the judge whatever the backend. After scoring, ``stats`` holds
    the verdict statistics and ``warnings`` a line when more than ``warn_unparsed`` of the answers held no
    verdict (the scores are then mostly ``unparsed``, not the judge's).
    """

    def __init__(self, generator: Generator | Callable[..., Generator], model: str | None = None, parser: str = "binary",
                 template: str | None = None, unparsed: float = 0.0, prefix: str = "[[", warn_unparsed: float = 0.05):
        if parser not in VERDICT_READERS:
            raise ConfigError("scorer.parser", f"unknown parser {parser!r} (known: {', '.join(VERDICT_READERS)})")
        if not 0 <= warn_unparsed <= 1:
            raise ConfigError("scorer.warn_unparsed", f"must be a fraction in [0, 1], got {warn_unparsed}")
        if not isinstance(generator, Generator):
            generator = generator(model=model)
        self.generator, self.parser, self.unparsed, self.warn_unparsed = generator, parser, unparsed, warn_unparsed
        self.read = VERDICT_READERS[parser](generator, prefix)
        templates = self.read.templates
        self.template = get_template(templates, template or next(iter(templates)), "scorer.template")
        self.stats: dict[str, float] = {}
        self.warnings: list[str] = []

    def score_items(self, groups: Sequence[WEvalGroup], items: list[tuple[int, int, int]]) -> list[float]:
        questions = [
            (groups[g].responses[r].text, groups[g].requirements[q].text, groups[g].prompt)
            for g, r, q in items
        ]
        verdicts, self.stats = self.read(self.template, questions)
        self.warnings = []
        if self.stats["unparsed_rate"] > self.warn_unparsed:
            self.warnings.append(
                f"{self.stats['n_unparsed']} of {self.stats['n_questions']} judge answers "
                f"({self.stats['unparsed_rate']:.0%}) held no verdict and scored {self.unparsed:g}: the ranking "
                f"reflects parse failures, not the judge (scorer.parser={self.parser}; a local judge can use "
                f"scorer.parser=logprob; threshold scorer.warn_unparsed={self.warn_unparsed:g})")
        return [self.unparsed if value is None else value for value in verdicts]

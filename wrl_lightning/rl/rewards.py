"""Reward sources of the policy stage: ``(prompts, completions) -> one reward per completion``.

Configs in ``conf/reward/`` build them (``_target_``); the stage combines a weighted list, logging each source.
A source may return NaN for a completion it cannot judge (e.g. ``rule`` on a prompt with no verifiable
requirement); the weighted sum skips NaN terms, and a completion no source judged gets NaN, which GRPO's
advantages treat as "no signal" (advantage 0).

- ``rm_per_requirement`` — the WRL reward: mean RM P(adheres) over the prompt's requirements, through a
  resident RM (:class:`~wrl_lightning.scoring.resident.ResidentRM`) that re-tokenises with its own tokenizer
  and template.
- ``rm_whole_prompt`` — the paper's released RL reward: the whole prompt as one "constraint".
- ``format`` — 1 when the output is ``<think>…</think><answer>…</answer>``, else 0.
- ``rule`` — the fraction of the prompt's verifiable requirements the completion keeps (rule checkers).
- ``hybrid_per_requirement`` — per requirement the rule verdict where a checker exists, the RM where not; mean.
- ``judge_binary`` — the LLM-as-a-judge baseline: per requirement the judge answers ``[[1]]``/``[[0]]`` (the
  WEval judge's template and parser); mean verdict, an unparsed answer counting 0.
- ``remote_rm`` — rewards from an HTTP RM service (OpenRLHF's remote-RM format, or the paper's RL service).

RM and judge sources take ``answer_only``: score only the ``<answer>`` part, and give 0 to an output without
the think/answer form (the paper's gating).
"""

from __future__ import annotations

import http.client
import inspect
import json
import logging
import math
import re
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import torch

from wrl_lightning.errors import ConfigError, WrlError
from wrl_lightning.generation.base import Generator
from wrl_lightning.models.templates import JUDGE_BINARY_TEMPLATES, get_template
from wrl_lightning.requirements.checkers import check_requirement
from wrl_lightning.rl.prompts import RLPrompt
from wrl_lightning.scoring.judge import ask_judge, parse_binary

log = logging.getLogger(__name__)

_FORMAT = re.compile(r"^\s*<think>.*?</think>\s*<answer>(.*?)</answer>\s*$", re.DOTALL)


def extract_answer(text: str) -> str | None:
    """The ``<answer>`` part of a ``<think>…</think><answer>…</answer>`` output, else None."""
    match = _FORMAT.match(text)
    return match.group(1).strip() if match else None


class RewardSource(ABC):
    """One reward signal. ``setup(device)`` is called once on each rank before the first call."""

    def setup(self, device: torch.device) -> None:  # noqa: B027  (most sources need nothing)
        """Load what the source needs onto ``device`` (default: nothing)."""

    @abstractmethod
    def __call__(self, prompts: Sequence[RLPrompt], completions: Sequence[str]) -> list[float]:
        """One reward per (prompt, completion)."""


class FormatReward(RewardSource):
    """1.0 when the output has the ``<think>…</think><answer>…</answer>`` form, else 0.0."""

    def __call__(self, prompts: Sequence[RLPrompt], completions: Sequence[str]) -> list[float]:
        return [float(extract_answer(text) is not None) for text in completions]


class RuleReward(RewardSource):
    """The fraction of the prompt's verifiable requirements the completion keeps (NaN if it has none)."""

    def __call__(self, prompts: Sequence[RLPrompt], completions: Sequence[str]) -> list[float]:
        rewards = []
        for prompt, text in zip(prompts, completions, strict=True):
            checks = [check_requirement(r, text, prompt=prompt.text) for r in prompt.verifiable]
            rewards.append(sum(checks) / len(checks) if checks else math.nan)
        return rewards


class _RMReward(RewardSource):
    """A reward from a resident classifier RM (loaded on ``setup``).

    Args:
        model: the RM (an export of ``stage=rm``, a released checkpoint, or ``embedded:NAME``).
        answer_only: score the ``<answer>`` part only; outputs without the think/answer form get 0.
        options: passed to :class:`~wrl_lightning.scoring.resident.ResidentRM` (batch_size, max_tokens, ...).
    """

    def __init__(self, model: str, answer_only: bool = False, trust_remote_code: bool = False, **options: Any):
        self.model_name, self.answer_only, self.trust_remote_code, self.options = model, answer_only, trust_remote_code, options
        self.rm = None

    def setup(self, device: torch.device) -> None:
        from wrl_lightning.scoring.resident import ResidentRM

        if self.rm is None:
            self.rm = ResidentRM.load(self.model_name, trust_remote_code=self.trust_remote_code, device=device, **self.options)

    def answers(self, completions: Sequence[str]) -> list[str | None]:
        """What the RM judges: the completion, or its answer part (None: no think/answer form)."""
        return [extract_answer(t) for t in completions] if self.answer_only else list(completions)


class RMPerRequirementReward(_RMReward):
    """The WRL reward: mean RM P(adheres) over the prompt's requirements."""

    def __call__(self, prompts: Sequence[RLPrompt], completions: Sequence[str]) -> list[float]:
        return self.rm.mean_scores(self.answers(completions), [[r.text for r in p.requirements] for p in prompts])


class RMWholePromptReward(_RMReward):
    """The paper's released RL reward: RM P(adheres) of the answer against the whole prompt."""

    def __call__(self, prompts: Sequence[RLPrompt], completions: Sequence[str]) -> list[float]:
        return self.rm.mean_scores(self.answers(completions), [[p.text] for p in prompts])


class HybridPerRequirementReward(_RMReward):
    """Per requirement: the rule verdict where a checker exists, the RM's P(adheres) where not; mean."""

    def __call__(self, prompts: Sequence[RLPrompt], completions: Sequence[str]) -> list[float]:
        answers = self.answers(completions)
        soft = self.rm.mean_scores(answers, [[r.text for r in p.requirements if not r.checker] for p in prompts])
        rewards = []
        for prompt, answer, rm_mean in zip(prompts, answers, soft, strict=True):
            if answer is None:
                rewards.append(0.0)
                continue
            rules = [float(check_requirement(r, answer, prompt=prompt.text)) for r in prompt.verifiable]
            n_soft = len(prompt.requirements) - len(rules)
            rewards.append((sum(rules) + rm_mean * n_soft) / len(prompt.requirements))
        return rewards


class JudgeBinaryReward(RewardSource):
    """The LLM-as-a-judge baseline: per requirement the judge answers ``[[1]]``/``[[0]]``; mean verdict.

    The question and the parsing are the WEval judge's (:func:`~wrl_lightning.scoring.judge.ask_judge`,
    :func:`~wrl_lightning.scoring.judge.parse_binary`). An answer with no verdict counts ``unparsed`` (0, as
    in the paper); ``stats`` holds the last call's ``n_questions``, ``n_unparsed`` and ``unparsed_rate``.

    Args:
        generator: a generator, or a factory taking ``model=`` (a ``_partial_`` config) built on ``setup``;
            when the factory takes a ``device`` left at ``auto``, it gets the rank's device.
        model: the judge model handed to the factory.
        template: a key of ``JUDGE_BINARY_TEMPLATES`` (``en``, ``paper_zh``) or a format string with
            ``{response}`` and ``{requirement}`` (and optionally ``{prompt}``).
        answer_only: judge only the ``<answer>`` part; outputs without the think/answer form get 0.
        unparsed: the verdict of an answer with no ``[[0]]``/``[[1]]``.
    """

    def __init__(
        self,
        generator: Generator | Callable[..., Generator],
        model: str | None = None,
        template: str = "en",
        answer_only: bool = False,
        unparsed: float = 0.0,
    ):
        self.generator, self.model_name = generator, model
        self.answer_only, self.unparsed = answer_only, unparsed
        self.template = get_template(JUDGE_BINARY_TEMPLATES, template, "rl.rewards.judge_binary.template")
        self.stats: dict[str, float] = {}

    def setup(self, device: torch.device | None) -> None:
        """Build the judge's generator (once), on ``device`` unless its config names one."""
        if isinstance(self.generator, Generator):
            return
        factory, options = self.generator, {"model": self.model_name}
        device_unset = getattr(factory, "keywords", {}).get("device", "auto") == "auto"
        if device is not None and device_unset and _accepts(factory, "device"):
            options["device"] = str(device)
        self.generator = factory(**options)

    def __call__(self, prompts: Sequence[RLPrompt], completions: Sequence[str]) -> list[float]:
        self.setup(None)  # a no-op after setup(device)
        answers = [extract_answer(t) for t in completions] if self.answer_only else list(completions)
        items = [
            (answer, r.text, p.text)
            for p, answer in zip(prompts, answers, strict=True)
            if answer is not None
            for r in p.requirements
        ]
        verdicts, self.stats = ask_judge(self.generator, self.template, parse_binary, items)
        values = iter(self.unparsed if v is None else v for v in verdicts)
        rewards = []
        for prompt, answer in zip(prompts, answers, strict=True):
            verdict = [next(values) for _ in prompt.requirements] if answer is not None else []
            rewards.append(sum(verdict) / len(verdict) if verdict else 0.0)
        return rewards


def _accepts(factory: Callable[..., Any], name: str) -> bool:
    """Whether ``factory`` takes a keyword argument ``name``."""
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


class RemoteRMError(WrlError):
    """The remote RM refused a batch, answered something unreadable, or stayed unreachable."""


#: Statuses worth retrying (overload, timeouts, server errors).
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class RemoteRMReward(RewardSource):
    """Rewards from an HTTP RM service (a client only: it binds nothing).

    ``mode=openrlhf`` speaks OpenRLHF's remote-RM format: POST ``{"query": [prompt + completion],
    "prompts": [prompt], "labels": [...]}`` (``query[i][len(prompts[i]):]`` is the completion; ``labels`` are
    the prompt's requirement texts, or its id with ``labels=id``). ``mode=wrl`` speaks the paper's RL-service
    shape ``{"question": [prompt], "answer": [completion]}``. Either reads ``{"rewards": [...]}`` (or
    ``{"scores": [...]}``), one number per sample; a null reward becomes NaN (no signal).

    Batches of ``batch_size`` samples are sent in order; connection errors, timeouts, 408/425/429 and 5xx are
    retried ``max_retries`` times with exponential backoff; anything else raises :class:`RemoteRMError` naming
    the URL and what came back.
    """

    MODES = ("openrlhf", "wrl")
    LABELS = ("requirements", "id")

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000/reward",
        mode: str = "openrlhf",
        batch_size: int = 64,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 1.0,
        backoff_max_s: float = 30.0,
        labels: str = "requirements",
        headers: dict[str, str] | None = None,
    ):
        key = "rl.rewards.remote_rm"
        if not url or not url.startswith(("http://", "https://")):
            raise ConfigError(f"{key}.url", f"expected an http(s) URL, got {url!r}")
        if mode not in self.MODES:
            raise ConfigError(f"{key}.mode", f"must be one of {', '.join(self.MODES)}, got {mode!r}")
        if labels not in self.LABELS:
            raise ConfigError(f"{key}.labels", f"must be one of {', '.join(self.LABELS)}, got {labels!r}")
        if batch_size < 1:
            raise ConfigError(f"{key}.batch_size", f"must be at least 1, got {batch_size}")
        if max_retries < 0:
            raise ConfigError(f"{key}.max_retries", f"must be >= 0, got {max_retries}")
        self.url, self.mode, self.batch_size, self.labels = url, mode, batch_size, labels
        self.timeout_s, self.max_retries = timeout_s, max_retries
        self.backoff_s, self.backoff_max_s = backoff_s, backoff_max_s
        self.headers = {"Content-Type": "application/json", **(headers or {})}

    def body(self, prompts: Sequence[RLPrompt], completions: Sequence[str]) -> dict[str, Any]:
        """The JSON body sent for one batch."""
        if self.mode == "wrl":
            return {"question": [p.text for p in prompts], "answer": list(completions)}
        by_requirements = self.labels == "requirements"
        labels = [[r.text for r in p.requirements] if by_requirements else p.id for p in prompts]
        return {"query": [p.text + c for p, c in zip(prompts, completions, strict=True)],
                "prompts": [p.text for p in prompts], "labels": labels}

    def __call__(self, prompts: Sequence[RLPrompt], completions: Sequence[str]) -> list[float]:
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
        rewards: list[float] = []
        for start in range(0, len(prompts), self.batch_size):
            batch = slice(start, start + self.batch_size)
            answer = self._post(self.body(prompts[batch], completions[batch]))
            rewards += self._rewards(answer, len(prompts[batch]))
        return rewards

    def _post(self, body: dict[str, Any]) -> Any:
        """POST one batch, retrying transient failures; the decoded JSON answer."""
        data = json.dumps(body, ensure_ascii=False).encode()
        attempt = 0
        while True:
            try:
                request = urllib.request.Request(self.url, data=data, headers=self.headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    raw = response.read()
                break
            except urllib.error.HTTPError as err:
                detail = err.read().decode(errors="replace")[:300]
                if err.code not in RETRY_STATUSES:
                    raise RemoteRMError(f"remote RM {self.url} answered HTTP {err.code}: {detail}") from None
                problem = f"HTTP {err.code}: {detail}"
            except (OSError, http.client.HTTPException) as err:  # refused, reset, timed out, cut short
                problem = f"{type(err).__name__}: {getattr(err, 'reason', err)}"
            if attempt >= self.max_retries:
                raise RemoteRMError(
                    f"remote RM {self.url}: {problem} (after {attempt + 1} attempts; is the service running?)"
                )
            delay = min(self.backoff_max_s, self.backoff_s * 2**attempt)
            retry = f"retry {attempt + 1}/{self.max_retries} in {delay:.1f}s"
            log.warning("remote RM %s: %s; %s", self.url, problem, retry)
            time.sleep(delay)
            attempt += 1
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RemoteRMError(f"remote RM {self.url} answered non-JSON: {raw[:300]!r}") from None

    def _rewards(self, answer: Any, n: int) -> list[float]:
        """The ``n`` rewards of a decoded answer (``rewards`` or ``scores``; null -> NaN)."""
        values = None
        if isinstance(answer, dict):
            values = answer.get("rewards", answer.get("scores"))
        elif isinstance(answer, list):  # a bare list of rewards
            values = answer
        shown = json.dumps(answer)[:300]
        if not isinstance(values, list):
            raise RemoteRMError(f"remote RM {self.url}: expected {{\"rewards\": [...]}}, got {shown}")
        if len(values) != n:
            raise RemoteRMError(f"remote RM {self.url}: sent {n} samples, got {len(values)} rewards: {shown}")
        rewards = []
        for value in values:
            if value is None:
                rewards.append(math.nan)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                rewards.append(float(value))
            else:
                raise RemoteRMError(f"remote RM {self.url}: reward {value!r} is not a number: {shown}")
        return rewards


def combine(parts: dict[str, list[float]], weights: dict[str, float]) -> torch.Tensor:
    """The weighted sum over sources per completion, skipping NaN terms (NaN where every term is NaN)."""
    stacked = torch.tensor([parts[name] for name in parts], dtype=torch.float32)
    weight = torch.tensor([weights.get(name, 1.0) for name in parts], dtype=torch.float32)[:, None]
    total = torch.nansum(stacked * weight, dim=0)
    return total.masked_fill(torch.isnan(stacked).all(dim=0), math.nan)

"""The two request formats the RM service speaks, validated at the HTTP layer, and what each one scores.

Both turn a request into a :class:`ScoreJob` (responses, each with the requirement texts it is judged
against); the RM scores every (response, requirement) pair and a response's reward is the mean over its
requirements, exactly as :class:`~wrl_lightning.scoring.resident.ResidentRM` and the in-process RM rewards
compute it (``rm_per_requirement`` / ``rm_whole_prompt`` with ``answer_only: false``).

**wrl** — the paper's RL service (its reward function posts here), question + answer -> P(adheres):

- ``{"question": str, "answer": str}`` -> ``{"value": p, "pred": 0|1, "question": ..., "answer": ...}``, the
  paper server's reply (``pred`` is ``p > 0.5``, the argmax of a 2-label RM);
- ``{"question": [str], "answer": [str]}`` (equal, non-zero lengths) -> ``{"rewards": [p, ...]}``, what the
  project's ``remote_rm`` reward sends and reads with ``mode=wrl``.

The question is the one constraint the answer is judged against (the paper passes the whole prompt).
The service scores the text it is given: extracting an ``<answer>`` part is the client's business.

**openrlhf** — OpenRLHF's remote-RM format (``--remote_rm_url``, also ``remote_rm`` with ``mode=openrlhf``):
``{"query": [prompt + response], "prompts": [prompt], "labels": [...]}`` -> ``{"rewards": [...], "scores":
[...]}`` (both the same mean P(adheres), in [0, 1]). How each sample is recovered:

- the response is ``query[i]`` after ``prompts[i]``: the strings in ``strip`` (e.g. ``<|im_end|>``, pad
  tokens) are first removed from both ends of the query, then the query must start with the prompt (422
  otherwise);
- the requirements are ``labels[i]``, a non-empty list of requirement texts (the WRL reward: mean over them).
  A sample whose label is null or ``""`` (OpenRLHF sends ``""`` without ``--label_key``), or a request
  without ``labels``, is judged against ``prompts[i]`` as one constraint (the paper's whole-prompt reward;
  note OpenRLHF's prompt carries its chat template). Any other label (e.g. a prompt id) is refused with 422:
  this service cannot look requirements up.

Malformed requests never reach the model: FastAPI answers 422 with the offending field's location and
message (``{"detail": [{"loc": ["body", "answer"], "msg": ...}]}``) or ``{"detail": "labels[2]: ..."}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, Field, StrictStr, model_validator

#: The APIs by name (the config's ``serve.paths`` keys).
APIS = ("wrl", "openrlhf")

#: A non-empty JSON list of strings.
Texts = Annotated[list[StrictStr], Field(min_length=1)]


@dataclass(frozen=True)
class ScoreJob:
    """What one request asks the RM: each response with the requirement texts it is judged against."""

    responses: list[str]
    requirements: list[list[str]]


class WRLRequest(BaseModel):
    """The paper's RL service: one (question, answer), or parallel lists of them."""

    question: StrictStr | Texts
    answer: StrictStr | Texts

    @model_validator(mode="after")
    def _same_shape(self) -> WRLRequest:
        if isinstance(self.question, str) != isinstance(self.answer, str):
            raise ValueError("question and answer must both be strings or both be lists")
        if not isinstance(self.question, str) and len(self.question) != len(self.answer):
            raise ValueError(f"question has {len(self.question)} items but answer has {len(self.answer)}")
        return self

    @property
    def single(self) -> bool:
        return isinstance(self.question, str)

    def job(self) -> ScoreJob:
        questions = [self.question] if self.single else self.question
        answers = [self.answer] if self.single else self.answer
        return ScoreJob(list(answers), [[q] for q in questions])

    def reply(self, rewards: list[float]) -> dict[str, Any]:
        if not self.single:
            return {"rewards": rewards}
        return {"value": rewards[0], "pred": int(rewards[0] > 0.5), "question": self.question, "answer": self.answer}


class OpenRLHFRequest(BaseModel):
    """OpenRLHF's remote-RM request: full texts, prompts, and per-sample labels (requirement lists)."""

    query: Texts
    prompts: list[StrictStr]
    labels: list[list[StrictStr] | StrictStr | None] | None = None

    @model_validator(mode="after")
    def _same_length(self) -> OpenRLHFRequest:
        for name in ("prompts", "labels"):
            values = getattr(self, name)
            if values is not None and len(values) != len(self.query):
                raise ValueError(f"{name} has {len(values)} items but query has {len(self.query)}")
        return self

    def job(self, strip: tuple[str, ...] = ()) -> ScoreJob:
        """The responses cut from the queries and their requirements; ValueError names the bad sample."""
        labels = self.labels or [None] * len(self.query)
        responses, requirements = [], []
        for i, (query, prompt, label) in enumerate(zip(self.query, self.prompts, labels, strict=True)):
            query = _strip(query, strip)
            if not query.startswith(prompt):
                raise ValueError(f"query[{i}] does not start with prompts[{i}] (after removing {list(strip)})")
            responses.append(query[len(prompt):])
            requirements.append(_requirements(i, label, prompt))
        return ScoreJob(responses, requirements)

    @staticmethod
    def reply(rewards: list[float]) -> dict[str, Any]:
        return {"rewards": rewards, "scores": rewards}


def _requirements(i: int, label: list[str] | str | None, prompt: str) -> list[str]:
    """The requirement texts of sample ``i``: its label list, or the prompt when it has no label."""
    if label is None or label == "":
        return [prompt]
    if isinstance(label, str):
        raise ValueError(f"labels[{i}]: expected a list of requirement texts (or null/\"\" to judge against the "
                         f"prompt), got the string {label[:80]!r}; wrap a single requirement in a list")
    if not label:
        raise ValueError(f"labels[{i}]: empty list of requirements")
    return list(label)


def _strip(text: str, tokens: tuple[str, ...]) -> str:
    """``text`` with every string of ``tokens`` removed, repeatedly, from both ends."""
    changed = bool(tokens)
    while changed:
        changed = False
        for token in tokens:
            if token and text.startswith(token):
                text, changed = text[len(token):], True
            if token and text.endswith(token):
                text, changed = text[: -len(token)], True
    return text

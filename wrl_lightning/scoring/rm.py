"""Model scorers over sequence classifiers.

- ``RMScorer`` — the paper's fine-grained classifier RM: each (response, requirement) through the template,
  P(label 1), mean over the group's requirements. Loads a released checkpoint of that form unchanged.
  ``score_pairs`` scores bare (response, requirement) pairs; for repeated in-process calls (RL rewards)
  use the resident RM (``scoring/resident.py``), which builds no Trainer per call.
- ``ScalarRMScorer`` — a whole-prompt reward model (e.g. Skywork-style): the chat template of
  (prompt, response), the single logit as the score.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch

from wrl_lightning.data.records import WEvalGroup
from wrl_lightning.data.scores import GroupScores
from wrl_lightning.models.packing import predict_packed_scores
from wrl_lightning.scoring.base import PerRequirementScorer, Scorer
from wrl_lightning.scoring.classifier import DEFAULT_MAX_LENGTH as DEFAULT_MAX_LENGTH  # re-exported
from wrl_lightning.scoring.classifier import RMInputs, input_length, load_classifier
from wrl_lightning.scoring.sequence import predict_scores

log = logging.getLogger(__name__)


class _ClassifierScorer:
    """A loaded tokenizer + sequence classifier; predicts scores for token rows through Lightning's predict
    loop (a Trainer per call, over every configured device: the WEval path)."""

    def __init__(self, model: torch.nn.Module, tokenizer, head: str, max_length: int, batch_size: int,
                 max_tokens: int | None, trainer: dict | None):
        self.model, self.tokenizer, self.head, self.max_length = model, tokenizer, head, max_length
        self.batch_size, self.max_tokens = batch_size, max_tokens
        self.trainer_kwargs = dict(trainer or {})
        self.stats: dict[str, float] = {}

    def predict(self, rows: list[list[int]]) -> list[float]:
        scores, self.stats = predict_scores(
            self.model, rows, self.tokenizer.pad_token_id, self.head, self.batch_size, self.max_tokens, self.trainer_kwargs
        )
        return scores

    def predict_packed(self, rows: list[list[int]], owners: list[str]) -> list[float]:
        scores, self.stats = predict_packed_scores(
            self.model, rows, owners, self.tokenizer.pad_token_id, self.head, self.batch_size, self.max_tokens,
            self.trainer_kwargs
        )
        return scores


class RMScorer(PerRequirementScorer):
    """Fine-grained classifier RM: P(label 1) per (response, requirement), mean per response.

    ``template`` None uses the one stored in the checkpoint's config (``wrl_template``), else the paper's;
    ``max_length`` None the length it was trained with (``wrl_max_length``), else 512.
    ``head`` is ``p1`` for 2-label checkpoints, ``sigmoid`` for 1-label ones; ``round_decimals=3`` mimics
    the paper's server. Identical (response, requirement) texts are scored once. Weights load in float32;
    ``trainer.precision`` picks the compute dtype (bf16-mixed on GPU, 32-true on CPU). ``packing``
    (auto | on | off): score a response's requirements in one packed forward (decoder RMs; see
    :mod:`wrl_lightning.models.packing`).
    """

    def __init__(self, model: str, template: str | None = None, head: str | None = None, max_length: int | None = None,
                 batch_size: int = 64, max_tokens: int | None = 16384, round_decimals: int | None = None,
                 trust_remote_code: bool = False, trainer: dict | None = None, packing: str | bool | None = "auto"):
        classifier, tokenizer = load_classifier(model, trust_remote_code)
        self.inputs = RMInputs.resolve(classifier, tokenizer, template, head, max_length, packing)
        self.backend = _ClassifierScorer(classifier, tokenizer, self.inputs.head, self.inputs.max_length,
                                         batch_size, max_tokens, trainer)
        self.round_decimals = round_decimals

    @property
    def stats(self) -> dict[str, float]:
        return self.backend.stats

    def score_pairs(self, responses: Sequence[str], requirements: Sequence[str]) -> list[float]:
        """P(adheres) of each (response, requirement), in order; no gold or group needed."""
        return self.inputs.score(responses, requirements, self.backend.predict, self.round_decimals,
                                 self.backend.predict_packed)

    def score_items(self, groups: Sequence[WEvalGroup], items: list[tuple[int, int, int]]) -> list[float]:
        return self.score_pairs([groups[g].responses[r].text for g, r, _ in items],
                                [groups[g].requirements[q].text for g, _, q in items])


class ScalarRMScorer(Scorer):
    """Whole-prompt scalar RM: chat template of [user: prompt, assistant: response] -> logit."""

    def __init__(self, model: str, max_length: int = 4096, batch_size: int = 16, max_tokens: int | None = 32768,
                 trust_remote_code: bool = False, trainer: dict | None = None):
        classifier, tokenizer = load_classifier(model, trust_remote_code)
        length = input_length(classifier, tokenizer, max_length)
        self.backend = _ClassifierScorer(classifier, tokenizer, "logit", length, batch_size, max_tokens, trainer)

    @property
    def stats(self) -> dict[str, float]:
        return self.backend.stats

    def score(self, groups: Sequence[WEvalGroup]) -> list[GroupScores]:
        tokenizer = self.backend.tokenizer
        if not tokenizer.chat_template:
            raise ValueError("scorer=scalar_rm needs a model whose tokenizer has a chat template")
        rows, owners = [], []
        for g, group in enumerate(groups):
            for response in group.responses:
                chat = [{"role": "user", "content": group.prompt}, {"role": "assistant", "content": response.text}]
                ids = tokenizer.apply_chat_template(chat, tokenize=True, return_dict=False)
                if len(ids) > self.backend.max_length:
                    log.warning("group %s: conversation of %d tokens cut to %d", group.group_id, len(ids), self.backend.max_length)
                    ids = ids[: self.backend.max_length]
                rows.append(list(ids))
                owners.append(g)
        scores = self.backend.predict(rows)
        results = [GroupScores(group.group_id, []) for group in groups]
        for owner, value in zip(owners, scores, strict=True):
            results[owner].scores.append(value)
        return results

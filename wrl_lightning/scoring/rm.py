"""Model scorers over sequence classifiers.

- ``RMScorer`` — the paper's fine-grained classifier RM: each (response, requirement) through the template,
  P(label 1), mean over the group's requirements. Loads a released checkpoint of that form unchanged.
- ``ScalarRMScorer`` — a whole-prompt reward model (e.g. Skywork-style): the chat template of
  (prompt, response), the single logit as the score.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from wrl_lightning.data.records import WEvalGroup
from wrl_lightning.data.scores import GroupScores
from wrl_lightning.models.loading import load_sequence_classifier, load_tokenizer
from wrl_lightning.models.rm_inputs import encode_pairs, ensure_pad_token
from wrl_lightning.models.templates import RM_TEMPLATES, get_template
from wrl_lightning.scoring.base import PerRequirementScorer, Scorer
from wrl_lightning.scoring.sequence import predict_scores

log = logging.getLogger(__name__)

#: RM input length when neither the config nor the checkpoint (``wrl_max_length``) gives one.
DEFAULT_MAX_LENGTH = 512


def _max_length(model, tokenizer, requested: int) -> int:
    """``requested`` clamped to what the model's positions allow."""
    limits = [requested, getattr(model.config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
    return min(int(v) for v in limits if v)


class _ClassifierScorer:
    """Loads a tokenizer + sequence classifier once and predicts scores for token rows."""

    def __init__(self, model: str, head: str, batch_size: int, max_tokens: int | None, max_length: int | None,
                 trust_remote_code: bool, trainer: dict | None):
        self.tokenizer = load_tokenizer(model, trust_remote_code=trust_remote_code)
        ensure_pad_token(self.tokenizer)
        self.model = load_sequence_classifier(model, trust_remote_code=trust_remote_code)
        if self.model.config.pad_token_id is None:
            self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.head, self.batch_size, self.max_tokens = head, batch_size, max_tokens
        trained = getattr(self.model.config, "wrl_max_length", None)  # set by exports of stage=rm
        self.max_length = _max_length(self.model, self.tokenizer, max_length or trained or DEFAULT_MAX_LENGTH)
        self.trainer_kwargs = dict(trainer or {})
        self.stats: dict[str, float] = {}

    def predict(self, rows: list[list[int]]) -> list[float]:
        scores, self.stats = predict_scores(
            self.model, rows, self.tokenizer.pad_token_id, self.head, self.batch_size, self.max_tokens, self.trainer_kwargs
        )
        self.stats["n_sequences"] = len(rows)
        self.stats["n_tokens"] = sum(len(r) for r in rows)
        return scores


class RMScorer(PerRequirementScorer):
    """Fine-grained classifier RM: P(label 1) per (response, requirement), mean per response.

    ``template`` None uses the one stored in the checkpoint's config (``wrl_template``), else the paper's;
    ``max_length`` None the length it was trained with (``wrl_max_length``), else 512.
    ``head`` is ``p1`` for 2-label checkpoints, ``sigmoid`` for 1-label ones; ``round_decimals=3`` mimics
    the paper's server. Identical (response, requirement) texts are scored once.
    """

    def __init__(self, model: str, template: str | None = None, head: str | None = None, max_length: int | None = None,
                 batch_size: int = 64, max_tokens: int | None = 16384, round_decimals: int | None = None,
                 trust_remote_code: bool = False, trainer: dict | None = None):
        self.backend = _ClassifierScorer(model, head or "p1", batch_size, max_tokens, max_length, trust_remote_code, trainer)
        config = self.backend.model.config
        if head is None and config.num_labels == 1:
            self.backend.head = "sigmoid"
        self.template = get_template(RM_TEMPLATES, template or getattr(config, "wrl_template", None) or "paper", "scorer.template")
        self.round_decimals = round_decimals

    @property
    def stats(self) -> dict[str, float]:
        return self.backend.stats

    def score_items(self, groups: Sequence[WEvalGroup], items: list[tuple[int, int, int]]) -> list[float]:
        keys = [(groups[g].responses[r].text, groups[g].requirements[q].text) for g, r, q in items]
        unique = list(dict.fromkeys(keys))
        rows = encode_pairs(self.backend.tokenizer, self.template, [k[0] for k in unique], [k[1] for k in unique], self.backend.max_length)
        scores = dict(zip(unique, self.backend.predict(rows), strict=True))
        if self.round_decimals is not None:
            scores = {key: round(value, self.round_decimals) for key, value in scores.items()}
        return [scores[key] for key in keys]


class ScalarRMScorer(Scorer):
    """Whole-prompt scalar RM: chat template of [user: prompt, assistant: response] -> logit."""

    def __init__(self, model: str, max_length: int = 4096, batch_size: int = 16, max_tokens: int | None = 32768,
                 trust_remote_code: bool = False, trainer: dict | None = None):
        self.backend = _ClassifierScorer(model, "logit", batch_size, max_tokens, max_length, trust_remote_code, trainer)

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

"""A pair RM held on one device for repeated in-process calls (e.g. rewarding RL rollouts).

The WEval scorers run a Lightning predict loop per call (a new Trainer, every configured device, results
gathered, the model moved back to the CPU afterwards). :class:`ResidentRM` instead places the model once on
this rank's device and keeps it there: no Trainer, no collective communication (each rank scores its own
rows), length-grouped padded batches under a token budget, ``torch.inference_mode``. Template, head and
input length resolve as for ``scorer=rm`` (:mod:`wrl_lightning.scoring.classifier`).

Precision: :meth:`ResidentRM.load` gives float32 weights (4 bytes per parameter); ``precision`` adds
autocast on top, by default bf16 on CUDA and none on CPU (as ``scorer=rm``), so scores match the WEval
scorer on the same hardware. A wrapped model keeps its dtype: hand over bf16 weights to halve GPU memory.

Packing (``packing``: auto | on | off): a decoder RM scores every requirement of a response in one forward,
the response's tokens once (:mod:`wrl_lightning.models.packing`); ``auto`` packs decoder classifiers whose
template ends with ``{requirement}``. ``stats`` then also gives ``n_pair_tokens`` and ``packing_ratio``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

import torch

from wrl_lightning.models.heads import HEADS
from wrl_lightning.models.packing import score_packed
from wrl_lightning.models.rm_inputs import length_grouped_batches, pad_batch
from wrl_lightning.scoring.batches import batch_scores, batch_stats
from wrl_lightning.scoring.classifier import RMInputs, load_classifier, share_pad_token
from wrl_lightning.training.precision import resolve_precision

#: Autocast dtype of each supported precision (None: weights' own dtype).
AUTOCAST = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16, "32-true": None}


def default_device() -> torch.device:
    """This rank's current CUDA device if a GPU is visible, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


class ResidentRM:
    """Wraps a loaded sequence classifier + tokenizer (e.g. one a training stage holds) for repeated
    :meth:`score_pairs` calls; :meth:`load` loads one from a path, hub id or ``embedded:NAME``.

    The model is moved to ``device`` (None: :func:`default_device`) and put in eval mode once. ``template``,
    ``head``, ``max_length`` None take the checkpoint's (``wrl_template``, ``num_labels``,
    ``wrl_max_length``). ``precision`` None/auto: bf16-mixed on CUDA, 32-true on CPU. Batches hold at most
    ``batch_size`` rows and ``max_tokens`` padded tokens (packed: sequences, each a response with all its
    requirements). ``round_decimals=3`` mimics the paper's server. ``packing``: see the module docstring.
    """

    def __init__(self, model: torch.nn.Module, tokenizer: Any, template: str | None = None,
                 head: str | None = None, max_length: int | None = None, device: str | torch.device | None = None,
                 precision: str | None = None, batch_size: int = 64, max_tokens: int | None = 16384,
                 round_decimals: int | None = None, packing: str | bool | None = "auto"):
        share_pad_token(model, tokenizer)
        self.inputs = RMInputs.resolve(model, tokenizer, template, head, max_length, packing)
        if self.inputs.head not in HEADS:
            raise ValueError(f"head must be one of {sorted(HEADS)}, got {self.inputs.head!r}")
        self.device = torch.device(device) if device is not None else default_device()
        precision = resolve_precision(precision, "gpu" if self.device.type == "cuda" else "cpu")
        if precision not in AUTOCAST:
            raise ValueError(f"precision must be one of auto, {', '.join(AUTOCAST)}, got {precision!r}")
        self.autocast = AUTOCAST[precision]
        self.model = model.to(self.device).eval()
        self.batch_size, self.max_tokens, self.round_decimals = batch_size, max_tokens, round_decimals
        self.stats: dict[str, float] = {}

    @classmethod
    def load(cls, model: str, trust_remote_code: bool = False, **options: Any) -> ResidentRM:
        """Load ``model`` with float32 weights (:func:`load_classifier`); ``options`` as the constructor's."""
        classifier, tokenizer = load_classifier(model, trust_remote_code)
        return cls(classifier, tokenizer, **options)

    def score_pairs(self, responses: Sequence[str], requirements: Sequence[str]) -> list[float]:
        """The RM's score (P(adheres) for p1/sigmoid heads) of each (response, requirement), in input order;
        identical pairs are scored once."""
        return self.inputs.score(responses, requirements, self._predict, self.round_decimals, self._predict_packed)

    def mean_scores(self, responses: Sequence[str | None], requirements: Sequence[Sequence[str]]) -> list[float]:
        """Each response's mean score over its requirement texts, all pairs in one :meth:`score_pairs` call
        (0 for a None response or an empty requirement list): the RM rewards' and the RM service's reward."""
        pairs = [(response, requirement) for response, texts in zip(responses, requirements, strict=True)
                 if response is not None for requirement in texts]
        scores = iter(self.score_pairs([p[0] for p in pairs], [p[1] for p in pairs]) if pairs else [])
        means = []
        for response, texts in zip(responses, requirements, strict=True):
            values = [next(scores) for _ in texts] if response is not None else []
            means.append(sum(values) / len(values) if values else 0.0)
        return means

    def _autocast(self):
        return nullcontext() if self.autocast is None else torch.autocast(self.device.type, dtype=self.autocast)

    @torch.inference_mode()
    def _predict_packed(self, rows: list[list[int]], owners: list[str]) -> list[float]:
        """Scores of token ``rows`` in order, each response's rows (``owners``) packed into one sequence."""
        with self._autocast():
            scores, self.stats = score_packed(self.model, rows, owners, self.inputs.tokenizer.pad_token_id,
                                              self.inputs.head, self.batch_size, self.max_tokens, self.device)
        return scores

    @torch.inference_mode()
    def _predict(self, rows: list[list[int]]) -> list[float]:
        """Scores of token ``rows`` in order, batch by batch on ``device``."""
        lengths = [len(row) for row in rows]
        batches = length_grouped_batches(lengths, self.batch_size, self.max_tokens)
        head, pad_id = HEADS[self.inputs.head], self.inputs.tokenizer.pad_token_id
        scores = [0.0] * len(rows)
        device = self.device
        with self._autocast():
            for index in batches:
                batch = pad_batch([rows[i] for i in index], index, pad_id)
                values = batch_scores(self.model, batch.input_ids.to(device), batch.attention_mask.to(device), head)
                for i, value in zip(index, values.tolist(), strict=True):
                    scores[i] = value
        self.stats = batch_stats(lengths, batches)
        return scores

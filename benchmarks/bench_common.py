"""What the scoring benchmarks share: the WEval input arguments and one saved classifier for every variant.

Imported by the scripts beside it (``python benchmarks/NAME.py`` puts this folder on the import path).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from wrl_lightning.models.loading import load_sequence_classifier, load_tokenizer
from wrl_lightning.models.rm_inputs import ensure_pad_token
from wrl_lightning.utils.resolvers import BUILTIN_DIR

#: The project's 200 real writing groups, where the shared data sits beside the checkout.
SHARED_LEVELS = Path(__file__).resolve().parents[2] / "shared" / "data" / "writing_levels_5c.jsonl"


def add_group_args(parser: argparse.ArgumentParser, groups: int) -> None:
    """``--input``/``--format`` (the shared levels file, else the embedded demo groups) and ``--groups``."""
    default_input = SHARED_LEVELS if SHARED_LEVELS.exists() else BUILTIN_DIR / "weval_demo.jsonl"
    parser.add_argument("--input", type=Path, default=default_input, help="WEval group file")
    parser.add_argument("--format", default="levels" if default_input == SHARED_LEVELS else "canonical", help="its format")
    parser.add_argument("--groups", type=int, default=groups, help="groups to score")


def saved_classifier(name: str, directory: Path) -> Path:
    """Save the classifier once (a seeded 2-label head) so every variant loads the same weights."""
    torch.manual_seed(0)
    model, tokenizer = load_sequence_classifier(name, num_labels=2), load_tokenizer(name)
    ensure_pad_token(tokenizer)
    model.config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory

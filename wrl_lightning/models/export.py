"""Export trained models as plain HF folders, replaced atomically (a policy: :func:`save_hf_folder`; an RM:
:func:`export_hf`).

An RM folder loads unchanged with ``AutoModelForSequenceClassification.from_pretrained`` (safetensors +
tokenizer). The RM template is stored in the model config (``wrl_template``, which the ``rm`` scorer reads)
and, with the score head and max length, in ``wrl_rm.json`` beside it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wrl_lightning.utils.files import give_usual_permissions, write_json

EXPORT_META = "wrl_rm.json"


def save_hf_folder(model: nn.Module, tokenizer, directory: str | Path,
                   extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` + ``tokenizer`` (+ ``extra`` JSON files by name) into a temporary folder with the usual
    file permissions, then replace ``directory`` with it; returns the folder."""
    directory = Path(directory)
    tmp = directory.with_name(f".{directory.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    for name, content in (extra or {}).items():
        write_json(tmp / name, content)
    give_usual_permissions(tmp)
    if directory.exists():
        shutil.rmtree(directory)
    tmp.replace(directory)
    return directory


def export_hf(model: nn.Module, tokenizer, directory: str | Path, template: str, head: str,
              dtype: str | None = None, meta: dict[str, Any] | None = None) -> Path:
    """Write the RM ``model`` + ``tokenizer`` to ``directory`` (replaced atomically); returns the folder."""
    if dtype:
        model = model.to(getattr(torch, dtype))
    model.config.wrl_template = template
    if meta and meta.get("max_length"):
        model.config.wrl_max_length = int(meta["max_length"])  # scorers then cut inputs as in training
    model.config.pad_token_id = tokenizer.pad_token_id
    meta = {"template": template, "head": head, "num_labels": model.config.num_labels, **(meta or {})}
    return save_hf_folder(model, tokenizer, directory, {EXPORT_META: meta})

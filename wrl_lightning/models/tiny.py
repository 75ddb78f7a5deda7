"""Tiny models built in code (random weights + a byte-level BPE tokenizer trained locally in seconds).

They exercise every code path of a real causal LM / decoder RM offline: chat template, padding, generation,
sequence classification. ``build_tiny(dir)`` writes an HF folder; ``embedded:tiny-qwen2`` resolves to one in
the cache.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from wrl_lightning.models.loading import register_embedded
from wrl_lightning.utils.files import cache_dir

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_CORPUS = (
    "Write a short story about a lighthouse keeper who finds a message in a bottle. "
    "The response must contain at least 120 words and end with the phrase 'Is there anything else?'. "
    "Use a formal tone, include the keywords ocean and lantern, and format the answer as a Markdown list. "
    "Dear team, thank you for your hard work this quarter; our report shows growth in every region. "
    "Do not use any commas. Wrap your entire response in double quotation marks. Add a title in <<double brackets>>. "
    "You need to determine whether the response adheres to this constraint. Only output 1 if it does, otherwise 0. "
    "P.S. Please answer in English and use exactly three paragraphs separated by ***. "
)


def _train_tokenizer(vocab_size: int):
    """A byte-level BPE tokenizer with chat specials, wrapped as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator([_CORPUS] * 50, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.model_max_length = 2048
    return fast


def build_tiny(directory: str | Path, hidden_size: int = 64, layers: int = 2, vocab_size: int = 1024, seed: int = 0) -> Path:
    """Write a tiny random Qwen2 causal LM (with a 2-label classifier config beside it) to ``directory``, once:
    processes started together (DDP ranks) wait for the first one's build."""
    from filelock import FileLock

    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(directory) + ".lock"):
        if not (directory / "config.json").exists():
            _write_tiny(directory, hidden_size, layers, vocab_size, seed)
    return directory


def _write_tiny(directory: Path, hidden_size: int, layers: int, vocab_size: int, seed: int) -> Path:
    """Build the tiny model and move it into ``directory`` (the caller holds the lock)."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    tokenizer = _train_tokenizer(vocab_size)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        num_labels=2,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    tmp = directory.with_name(directory.name + f".tmp{os.getpid()}")
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(directory, ignore_errors=True)  # a folder left without config.json by an older version
    tmp.replace(directory)
    return directory


@register_embedded("tiny-qwen2")
def _tiny_qwen2() -> str:
    """A tiny random Qwen2 built once into the cache (for tests and quick dry runs)."""
    return str(build_tiny(cache_dir() / "tiny-qwen2"))

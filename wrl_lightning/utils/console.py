"""A quiet console for the command line: third-party banners, tips and warnings nobody can act on are dropped;
our own progress bars, summaries and every real warning stay.

Loggers a user turned up with ``hydra.verbose=NAME`` are left as they are; W&B keeps its console report when it
syncs live (it then shows the run's address).
"""

from __future__ import annotations

import logging
import os
import warnings

#: Loggers whose INFO lines are chatter ("GPU available: False", "💡 Tip: …litlogger…", "LOCAL_RANK: 0 - …",
#: "`Trainer.fit` stopped: …"); their warnings and errors still show. Lightning sets them to INFO on import.
CHATTY_LOGGERS = ("pytorch_lightning", "lightning_fabric")

#: (logger, start of message) pairs that are dropped whatever their level.
DROPPED_LOGS = (
    ("DeepSpeed", "Setting accelerator to CPU"),  # DeepSpeed's accelerator probe when it is imported on a CPU machine
    # the tokenizer measuring a whole response before our inputs cut it to the RM's max length
    ("transformers.tokenization_utils_base", "Token indices sequence length is longer than the specified maximum"),
)

#: (message regex, category) of warnings that are dropped.
DROPPED_WARNINGS = (
    (r".*isinstance\(treespec, LeafSpec\)", Warning),  # Lightning calling a deprecated torch.utils._pytree API
    (r"You defined a `validation_step` but have no `val_dataloader`", Warning),  # the RL stage validates by hand
    (r"The '\w+_dataloader' does not have many workers", Warning),  # batches are built in the main process on purpose
)

#: transformers' progress bars over local work of a second or two (hub downloads keep theirs).
DROPPED_BARS = ("Loading weights", "Writing model shards")

#: Environment defaults (set only where the user has not).
ENVIRONMENT = {
    "TOKENIZERS_PARALLELISM": "false",  # the tokenizers fork warning (each stage tokenizes in one process)
}


class _DropMessages(logging.Filter):
    def __init__(self, starts: tuple[str, ...]):
        super().__init__()
        self.starts = starts

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.starts)


def _tqdm_without_local_bars(factory, args: tuple, kwargs: dict):
    """transformers' tqdm hook: the bars of :data:`DROPPED_BARS` are created disabled."""
    if kwargs.get("desc") in DROPPED_BARS:
        kwargs = {**kwargs, "disable": True}
    return factory(*args, **kwargs)


def quiet_console(wandb_offline: bool) -> None:
    """Apply the settings above (call once, before any stage runs); an offline W&B run reports nothing on the
    console (its files are in the run folder: ``wandb sync`` uploads them)."""
    import pytorch_lightning  # noqa: F401  (sets its loggers' levels on import: after that, ours stand)
    from datasets import disable_progress_bars
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_tqdm_hook(_tqdm_without_local_bars)
    disable_progress_bars()  # datasets' map bars: tokenizing takes a second; the step's own bar follows
    for key, value in {**ENVIRONMENT, **({"WANDB_SILENT": "true"} if wandb_offline else {})}.items():
        os.environ.setdefault(key, value)
    for name in CHATTY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level in (logging.NOTSET, logging.INFO):
            logger.setLevel(logging.WARNING)
    for name in {name for name, _ in DROPPED_LOGS}:
        logging.getLogger(name).addFilter(_DropMessages(tuple(start for logger, start in DROPPED_LOGS if logger == name)))
    for message, category in DROPPED_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)

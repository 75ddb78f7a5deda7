"""Packed RM training throughput: RewardLitModule with ``packing=on`` (every requirement of a response in one
sequence, the response's tokens once) vs ``packing=off`` (one (response, requirement) row per sequence,
length-grouped batches), side by side in one run. Same weights (one saved classifier), same rows (the first
``--groups`` groups of a 5-level file, one epoch each), same pairs per step cap (``--batch-size``), fp32 on CPU.

The figure that matters is *one-pair tokens/s*: the tokens the one-pair path would process for the pairs
trained per second (tokens-equivalent throughput); packed feeds fewer tokens for the same pairs.

    OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \\
        .venv/bin/python benchmarks/packed_training.py [--model embedded:smollm2] [--groups 2] [--max-length 256]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
from bench_common import SHARED_LEVELS, saved_classifier  # noqa: E402

from wrl_lightning.models.reward_module import RewardLitModule  # noqa: E402
from wrl_lightning.models.rm_data import PairDataModule  # noqa: E402


class Meter(pl.Callback):
    """Per training step after the first: wall time, pairs, tokens fed (real / padded) and one-pair tokens."""

    def __init__(self, data: PairDataModule):
        self.data, self.step, self.start, self.seconds = data, 0, None, 0.0
        self.pairs = self.real = self.padded = self.pair_tokens = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.step == 0:
            return
        rows = self.data.train_rows.input_ids
        self.pairs += len(batch["labels"])
        self.real += int(batch["attention_mask"].sum())
        self.padded += batch["attention_mask"].numel()
        self.pair_tokens += (sum(len(rows[i]) for i in batch["index"].tolist()) if "segments" in batch
                             else int(batch["attention_mask"].sum()))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.step += 1
        if self.step == 1:  # the first step (allocations, lazy inits) is not timed
            self.start = time.perf_counter()
        else:
            self.seconds = time.perf_counter() - self.start


def run(path: Path, args, packing: str) -> dict:
    """One epoch of RewardLitModule on the rows; the datamodule follows the module's packing."""
    torch.manual_seed(0)
    data = PairDataModule(input=str(args.input), format=args.format, tokenizer=str(path), max_length=args.max_length,
                          batch_size=args.batch_size, val_fraction=0.0, max_groups=args.groups, seed=0)
    module = RewardLitModule(str(path), optimizer=partial(torch.optim.AdamW, lr=2e-5), packing=packing,
                             dtype="float32", attn_implementation=args.attention)
    meter = Meter(data)
    trainer = pl.Trainer(accelerator="cpu", devices=1, precision="32-true", max_epochs=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         use_distributed_sampler=False, callbacks=[meter], num_sanity_val_steps=0)
    trainer.fit(module, datamodule=data)
    steps, seconds = meter.step - 1, meter.seconds
    return {"packing": packing, "packs": module.packs, "steps": steps, "pairs": meter.pairs, "seconds": seconds,
            "s/step": seconds / steps, "pairs/s": meter.pairs / seconds, "fed tokens/s": meter.real / seconds,
            "one-pair tokens/s": meter.pair_tokens / seconds, "tokens fed / one-pair": meter.real / meter.pair_tokens,
            "padding efficiency": meter.real / meter.padded}


def table(results: list[dict]) -> str:
    """Markdown table; the last column is each row's one-pair tokens/s over the unpacked row's."""
    base = results[0]["one-pair tokens/s"]
    head = ["packing", "timed steps", "pairs", "s/step", "pairs/s", "fed tokens/s", "one-pair tokens/s",
            "tokens fed / one-pair", "padding efficiency", "× vs off"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        lines.append(f"| {r['packing']} | {r['steps']} | {r['pairs']} | {r['s/step']:.2f} | {r['pairs/s']:.2f} | "
                     f"{r['fed tokens/s']:.0f} | {r['one-pair tokens/s']:.0f} | {r['tokens fed / one-pair']:.3f} | "
                     f"{r['padding efficiency']:.3f} | {r['one-pair tokens/s'] / base:.2f}× |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, default=SHARED_LEVELS, help="5-level writing file (or canonical groups)")
    parser.add_argument("--format", default="levels", help="pair source format of --input")
    parser.add_argument("--model", default="embedded:smollm2", help="decoder sequence classifier (path, hub id, embedded:NAME)")
    parser.add_argument("--groups", type=int, default=2, help="groups trained (25 pairs each in the 5-level file)")
    parser.add_argument("--max-length", type=int, default=256, help="tokens per (response, requirement)")
    parser.add_argument("--batch-size", type=int, default=10, help="pairs per step (packed: whole responses up to it)")
    parser.add_argument("--attention", default="sdpa", choices=["sdpa", "eager"], help="attention implementation")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = saved_classifier(args.model, Path(tmp))
        results = [run(path, args, "off"), run(path, args, "on")]
    assert results[1]["packs"] and not results[0]["packs"]
    print(f"{args.model}, {args.groups} groups of {args.input.name}, max_length {args.max_length}, "
          f"{args.batch_size} pairs/step max, {args.attention}, fp32 CPU, torch threads {torch.get_num_threads()}")
    print(table(results))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

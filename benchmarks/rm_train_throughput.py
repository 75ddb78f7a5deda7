"""RM training throughput: RewardLitModule (Lightning) vs TRL's RewardTrainer, side by side in one run.

Same backbone (MiniLM by default), same token rows (the paper's template, responses cut to --max-length),
same sequences per optimizer step, dropout off in both (both trainers' default): TRL trains preference
pairs (chosen, rejected) of one requirement, B pairs = 2B sequences per step; ours trains the same
sequences as labelled rows, 2B per step. Ours batches rows by
length; TRL pads each random batch to its longest row (a third run uses TRL with group_by_length sampling).
BERT tokenizers have no EOS token, so TRL gets pre-tokenized ``chosen_ids``/``rejected_ids``.

    OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \\
        .venv/bin/python benchmarks/rm_train_throughput.py --input ../shared/data/writing_levels_5c.jsonl
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from itertools import cycle
from pathlib import Path

import torch

from wrl_lightning.models.loading import load_sequence_classifier
from wrl_lightning.models.pair_sources import load_pairs
from wrl_lightning.models.rm_data import CHARS_PER_TOKEN, PairDataModule
from wrl_lightning.models.rm_inputs import encode_pairs, padding_efficiency
from wrl_lightning.models.templates import RM_TEMPLATES


def preference_pairs(path: str, fmt: str, groups: int) -> list[tuple[dict, dict]]:
    """(kept, dropped) pair records of the same requirement in the same group, first ``groups`` groups."""
    pairs = load_pairs(path, fmt).pairs
    chosen_groups = list(dict.fromkeys(p.group_id for p in pairs))[:groups]
    result = []
    for group_id in chosen_groups:
        members = [p for p in pairs if p.group_id == group_id]
        for text in dict.fromkeys(p.requirement.text for p in members):
            kept = [p for p in members if p.requirement.text == text and p.label == 1]
            dropped = [p for p in members if p.requirement.text == text and p.label == 0]
            if kept and dropped:
                result += list(zip(kept, cycle(dropped), strict=False))
    return [(a.to_dict(), b.to_dict()) for a, b in result]


class Meter:
    """Wall time and tokens over the steps after ``warmup``."""

    def __init__(self, warmup: int):
        self.warmup, self.step, self.start = warmup, 0, None
        self.real = self.padded = 0
        self.lengths: list[int] = []
        self.batches: list[list[int]] = []

    def batch(self, attention_mask: torch.Tensor) -> None:
        if self.step >= self.warmup:
            self.real += int(attention_mask.sum())
            self.padded += attention_mask.numel()
            rows = attention_mask.sum(1).tolist()
            self.batches.append(list(range(len(self.lengths), len(self.lengths) + len(rows))))
            self.lengths += rows

    def step_end(self) -> None:
        self.step += 1
        if self.step == self.warmup:
            self.start = time.perf_counter()

    def result(self, name: str, rows_per_step: int) -> dict:
        seconds = time.perf_counter() - self.start
        steps = self.step - self.warmup
        return {"implementation": name, "steps": steps, "sequences/step": rows_per_step, "s/step": seconds / steps,
                "real tokens/s": self.real / seconds, "padded tokens/s": self.padded / seconds,
                "padding efficiency": padding_efficiency(self.lengths, self.batches)}


def run_ours(pair_file: Path, args) -> dict:
    """RewardLitModule + PairDataModule, Lightning on CPU, fp32."""
    from functools import partial

    import pytorch_lightning as pl

    from wrl_lightning.models.reward_module import RewardLitModule

    meter = Meter(args.warmup)

    class Timer(pl.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            meter.batch(batch["attention_mask"])

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            meter.step_end()

    rows = 2 * args.batch_size
    data = PairDataModule(input=str(pair_file), format="pairs", tokenizer=args.model, max_length=args.max_length,
                          batch_size=rows, val_fraction=0.0, seed=0)
    module = RewardLitModule(args.model, optimizer=partial(torch.optim.AdamW, lr=3e-5))
    trainer = pl.Trainer(accelerator="cpu", devices=1, precision="32-true", max_steps=args.warmup + args.steps, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         use_distributed_sampler=False, callbacks=[Timer()], num_sanity_val_steps=0)
    trainer.fit(module, datamodule=data)
    return meter.result("RewardLitModule (ours, length-grouped)", rows)


def run_trl(prefs: list[tuple[dict, dict]], args, group_by_length: bool) -> dict:
    """TRL RewardTrainer on pre-tokenized (chosen, rejected) ids."""
    from datasets import Dataset
    from transformers import AutoTokenizer, TrainerCallback
    from trl import RewardConfig, RewardTrainer
    from trl.trainer.reward_trainer import DataCollatorForPreference

    from wrl_lightning.models.loading import resolve_model_path

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(args.model))
    template, limit = RM_TEMPLATES["paper"], args.max_length * CHARS_PER_TOKEN
    encode = lambda rows: encode_pairs(tokenizer, template, [r["response"][:limit] for r in rows],  # noqa: E731
                                       [r["requirement"]["text"] for r in rows], args.max_length)
    chosen, rejected = encode([a for a, _ in prefs]), encode([b for _, b in prefs])
    columns = {"chosen_ids": chosen, "rejected_ids": rejected}
    if group_by_length:
        columns["length"] = [max(len(a), len(b)) for a, b in zip(chosen, rejected, strict=True)]
    meter = Meter(args.warmup)

    class Collator(DataCollatorForPreference):
        def torch_call(self, examples):
            batch = super().torch_call(examples)
            meter.batch(batch["attention_mask"])
            return batch

    class Timer(TrainerCallback):
        def on_step_end(self, *_, **__):
            meter.step_end()

    config = RewardConfig(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=args.batch_size,
                          max_steps=args.warmup + args.steps, learning_rate=3e-5, report_to="none", save_strategy="no",
                          logging_steps=10_000, use_cpu=True, bf16=False, max_length=None, disable_tqdm=True,
                          disable_dropout=True,  # TRL's default, as ours (model.rm.disable_dropout)
                          dataloader_num_workers=0, seed=0, remove_unused_columns=not group_by_length,
                          train_sampling_strategy="group_by_length" if group_by_length else "random")
    model = load_sequence_classifier(args.model, num_labels=1)
    trainer = RewardTrainer(model=model, args=config, train_dataset=Dataset.from_dict(columns), processing_class=tokenizer,
                            data_collator=Collator(pad_token_id=tokenizer.pad_token_id), callbacks=[Timer()])
    trainer.train()
    name = "TRL RewardTrainer (group_by_length)" if group_by_length else "TRL RewardTrainer (random batches)"
    return meter.result(name, 2 * args.batch_size)


def table(results: list[dict]) -> str:
    """Markdown table with the ratio of our real tokens/s to each row's."""
    ours = results[0]["real tokens/s"]
    head = ["implementation", "steps", "sequences/step", "s/step", "real tokens/s", "padded tokens/s", "padding efficiency", "ours ÷ this"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        lines.append(f"| {r['implementation']} | {r['steps']} | {r['sequences/step']} | {r['s/step']:.2f} | {r['real tokens/s']:.0f} | "
                     f"{r['padded tokens/s']:.0f} | {r['padding efficiency']:.3f} | {ours / r['real tokens/s']:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=str(Path(__file__).resolve().parents[2] / "shared/data/writing_levels_5c.jsonl"))
    parser.add_argument("--format", default="levels", help="pair source format of --input (levels | canonical | pairs)")
    parser.add_argument("--model", default="embedded:minilm")
    parser.add_argument("--groups", type=int, default=12, help="groups whose preference pairs are used")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=4, help="preference pairs per step (= 2x sequences)")
    parser.add_argument("--steps", type=int, default=12, help="timed steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    torch.manual_seed(0)

    prefs = preference_pairs(args.input, args.format, args.groups)
    pair_file = Path(tempfile.mkdtemp()) / "pairs.jsonl"
    pair_file.write_text("".join(json.dumps(row) + "\n" for a, b in prefs for row in (a, b)))
    needed = args.batch_size * (args.warmup + args.steps)
    if len(prefs) < needed:
        raise SystemExit(f"{len(prefs)} preference pairs; need {needed}: raise --groups")
    print(f"{len(prefs)} preference pairs ({2 * len(prefs)} sequences) from {args.input}; torch threads {torch.get_num_threads()}")
    results = [run_ours(pair_file, args), run_trl(prefs, args, group_by_length=False), run_trl(prefs, args, group_by_length=True)]
    print(table(results))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

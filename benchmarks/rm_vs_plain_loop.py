"""RM quality: `+experiment=rm_tiny` vs a plain PyTorch training loop, same backbone, same split, one run.

Both train on the same prompt-disjoint part of a 5-level writing file (25 labelled pairs per group) and are
scored with WEval on the held-out groups (Kendall tau, position consistency, exact match; ties broken at
random in expectation; 95% bootstrap CIs). The plain loop is the usual reference recipe: the paper's
template, tail truncation at --max-length (which cuts the requirement of long responses), shuffled batches,
constant-LR AdamW, one epoch, cross-entropy over 2 labels. Ours is the real CLI run of the stage.

    OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \\
        .venv/bin/python benchmarks/rm_vs_plain_loop.py --input ../shared/data/writing_levels_5c.jsonl
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from wrl_lightning.data.split import split_keys
from wrl_lightning.models.loading import load_sequence_classifier, load_tokenizer
from wrl_lightning.models.pair_sources import load_pairs
from wrl_lightning.models.rm_data import group_key
from wrl_lightning.models.templates import RM_TEMPLATES
from wrl_lightning.scoring.base import PerRequirementScorer
from wrl_lightning.weval.metrics import evaluate

KEYS = ("kendall_tau", "position_consistency", "exact_match")


class PlainScorer(PerRequirementScorer):
    """The plain loop's own scoring: fixed batches of 32 in input order, tail truncation, P(label 1)."""

    def __init__(self, model, encode, template: str):
        self.model, self.encode, self.template = model.eval(), encode, template

    @torch.inference_mode()
    def score_items(self, groups, items) -> list[float]:
        texts = [self.template.format(response=groups[g].responses[r].text, requirement=groups[g].requirements[q].text)
                 for g, r, q in items]
        return [p for start in range(0, len(texts), 32)
                for p in self.model(**self.encode(texts[start:start + 32])).logits.softmax(-1)[:, 1].tolist()]


def plain_loop(train_pairs, groups, args) -> dict:
    """Train with a bare loop, then score every (response, requirement) of ``groups``; WEval metrics."""
    torch.manual_seed(args.seed)
    tokenizer = load_tokenizer(args.model)
    model = load_sequence_classifier(args.model, num_labels=2)
    template = RM_TEMPLATES["paper"]
    encode = lambda texts: tokenizer(texts, truncation=True, max_length=args.max_length, padding=True, return_tensors="pt")  # noqa: E731
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    order = torch.randperm(len(train_pairs), generator=torch.Generator().manual_seed(args.seed)).tolist()
    model.train()
    for epoch in range(args.epochs):
        for start in range(0, len(order), args.batch_size):
            batch = [train_pairs[i] for i in order[start:start + args.batch_size]]
            inputs = encode([template.format(response=p.response, requirement=p.requirement.text) for p in batch])
            loss = model(**inputs, labels=torch.tensor([p.label for p in batch])).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        print(f"plain loop: epoch {epoch + 1} done", flush=True)
    metrics, _ = evaluate(groups, PlainScorer(model, encode, template).score(groups), ties="random", seed=args.seed)
    return metrics


def ours(args, out: Path) -> dict:
    """The stage through its CLI: `+experiment=rm_tiny` on the same file, split and seed."""
    command = [sys.executable, "-m", "wrl_lightning", "+experiment=rm_tiny", f"data.input={args.input}", "data.format=levels",
               f"data.val_fraction={args.val_fraction}", f"data.max_length={args.max_length}", f"seed={args.seed}",
               f"paths.output_dir={out}", "logger=csv", *args.overrides]
    print("ours:", " ".join(command), flush=True)
    subprocess.run(command, check=True)
    metrics = json.loads((out / "metrics.json").read_text())
    return {key: metrics[f"val/weval/{key}"] for key in KEYS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=str(Path(__file__).resolve().parents[2] / "shared/data/writing_levels_5c.jsonl"))
    parser.add_argument("--model", default="embedded:minilm")
    parser.add_argument("--val-fraction", type=float, default=0.5, help="held-out fraction of the groups (WEval set)")
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--batch-size", type=int, default=8, help="plain loop: pairs per step")
    parser.add_argument("--lr", type=float, default=3e-5, help="plain loop: constant learning rate")
    parser.add_argument("--epochs", type=int, default=1, help="plain loop: passes over the training pairs")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default=None, help="write both results as JSON here")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides of our run (e.g. trainer.max_epochs=2)")
    args = parser.parse_args()

    source = load_pairs(args.input, "levels")
    train_keys, val_keys = split_keys([group_key(p) for p in source.pairs], args.val_fraction, args.seed)
    train_pairs = [p for p in source.pairs if group_key(p) in train_keys]
    groups = [g for g in source.groups if g.group_id in val_keys]
    print(f"{len(train_keys)} training groups ({len(train_pairs)} pairs), {len(groups)} held-out WEval groups", flush=True)

    rows = []
    start = time.perf_counter()
    plain = plain_loop(train_pairs, groups, args)
    rows.append(("plain PyTorch loop", plain, time.perf_counter() - start))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(("wrl_lightning +experiment=rm_tiny", ours(args, Path(tmp) / "run"), time.perf_counter() - start))
    print("| training | Kendall tau | position consistency | exact match | wall s |\n|---|---|---|---|---|")
    for name, m, seconds in rows:
        tau = f"{m['kendall_tau']:.3f}"
        if "kendall_tau_ci_low" in m:
            tau += f" [{m['kendall_tau_ci_low']:.3f}, {m['kendall_tau_ci_high']:.3f}]"
        print(f"| {name} | {tau} | {m['position_consistency']:.3f} | {m['exact_match']:.3f} | {seconds:.0f} |")
    if args.out:
        Path(args.out).write_text(json.dumps([{"training": n, **{k: m[k] for k in KEYS}, "wall_s": s} for n, m, s in rows], indent=2) + "\n")


if __name__ == "__main__":
    main()

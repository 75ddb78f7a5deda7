"""Packed RM scoring for decoder RMs: every requirement of a response in one forward, the response's tokens
once (``packing=on``), vs the one-pair batched path (``packing=off``: each (response, requirement) row on its
own, length-grouped batches under a token budget) vs one pair per forward (the paper's serving loop). Same
weights, same token rows, one process, printed side by side. The rows are tokenized once (timed apart) and
handed to every variant, so the timings are of the model side: dedup, batching / packing, forwards.

The default RM is the embedded decoder SmolLM2-135M-Instruct as a 2-label classifier (its seeded head saved
once, so every path reads the same weights), on WEval groups of the shared 5-level file; ``--limit`` keeps it
to a few groups (a couple of minutes on 2 CPU cores).

    python benchmarks/packed_scoring.py [--input FILE --format levels] [--limit 4] [--model embedded:smollm2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from bench_common import add_group_args, saved_classifier  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from wrl_lightning.models.loading import load_sequence_classifier, load_tokenizer  # noqa: E402
from wrl_lightning.models.rm_inputs import encode_pairs  # noqa: E402
from wrl_lightning.scoring import classifier  # noqa: E402
from wrl_lightning.scoring.resident import AUTOCAST, ResidentRM, default_device  # noqa: E402
from wrl_lightning.weval.importers import load_groups  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_group_args(parser, groups=4)
    parser.add_argument("--limit", dest="groups", type=int, help="groups to score (the same as --groups)")
    parser.add_argument("--model", default="embedded:smollm2", help="decoder sequence classifier (path, hub id, embedded:NAME)")
    parser.add_argument("--max-length", type=int, default=None, help="tokens per (response, requirement); default 512")
    parser.add_argument("--attention", default="sdpa", choices=["sdpa", "eager"], help="attention implementation")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: a GPU if visible)")
    parser.add_argument("--precision", default="32-true", choices=sorted(AUTOCAST), help="autocast of every variant")
    parser.add_argument("--batch-size", type=int, default=64, help="rows (packed: responses) per batch")
    parser.add_argument("--max-tokens", type=int, default=16384, help="padded-token budget per batch")
    return parser.parse_args()


def one_at_a_time(model, rows, device, autocast) -> list[float]:
    """The serving script's loop on the same token rows: one row, forward, softmax."""
    scores = []
    with torch.inference_mode(), autocast():
        for row in rows:
            logits = model(input_ids=torch.tensor([row], device=device)).logits
            scores.append(torch.softmax(logits.float(), -1)[0, 1].item())
    return scores


def timed(function, device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    result = function()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return result, time.perf_counter() - started


def main() -> None:
    args = parse_args()
    groups = load_groups(args.input, args.format)[: args.groups]
    pairs = [(r.text, g.requirements[q].text) for g in groups for k, r in enumerate(g.responses) for q in g.requirement_indices(k)]
    responses, requirements = [p[0] for p in pairs], [p[1] for p in pairs]
    device = torch.device(args.device) if args.device else default_device()
    console = Console()

    with tempfile.TemporaryDirectory() as tmp:
        path = saved_classifier(args.model, Path(tmp))
        tokenizer = load_tokenizer(str(path))
        model = load_sequence_classifier(str(path), dtype=torch.float32, attn_implementation=args.attention)
        options = {"max_length": args.max_length, "device": device, "precision": args.precision,
                   "batch_size": args.batch_size, "max_tokens": args.max_tokens, "template": "paper"}
        packed = ResidentRM(model, tokenizer, packing="on", **options)
        batched = ResidentRM(model, tokenizer, packing="off", **options)
        inputs = packed.inputs
        rows, encode_seconds = timed(
            lambda: encode_pairs(tokenizer, inputs.template, responses, requirements, inputs.max_length), device)
        by_pair = dict(zip(pairs, rows, strict=True))
        # The scorers' encode_pairs returns the rows made above (each variant gets the very same token ids).
        classifier.encode_pairs = lambda tok, tpl, resp, reqs, length: [by_pair[p] for p in zip(resp, reqs, strict=True)]
        unique = len(set(pairs))
        console.print(f"{len(pairs)} (response, requirement) pairs ({unique} distinct) from {len(groups)} groups of "
                      f"{args.input.name}; model {args.model}, attention {args.attention}, {device}, {args.precision}, "
                      f"max_length {inputs.max_length}; torch threads {torch.get_num_threads()}")
        dtype = AUTOCAST[args.precision]
        autocast = (lambda: nullcontext()) if dtype is None else (lambda: torch.autocast(device.type, dtype=dtype))
        one_at_a_time(model, rows[:4], device, autocast)  # warm-up
        packed.score_pairs(responses[:10], requirements[:10])
        batched.score_pairs(responses[:10], requirements[:10])

        baseline, base_seconds = timed(lambda: one_at_a_time(model, rows, device, autocast), device)
        one_pair, one_pair_seconds = timed(lambda: batched.score_pairs(responses, requirements), device)
        one_pair_stats = batched.stats
        ours, packed_seconds = timed(lambda: packed.score_pairs(responses, requirements), device)
        packed_stats = packed.stats

    pair_tokens = sum(len(row) for row in rows)
    results = [
        ("one pair per forward (paper's server loop)", base_seconds, pair_tokens, pair_tokens, baseline),
        ("one-pair batched (packing=off)", one_pair_seconds, one_pair_stats["n_tokens"],
         one_pair_stats["n_tokens"] / one_pair_stats["padding_efficiency"], one_pair),
        ("packed (packing=on)", packed_seconds, packed_stats["n_tokens"],
         packed_stats["n_tokens"] / packed_stats["padding_efficiency"], ours),
    ]
    table = Table(title="Packed RM scoring (same weights, same token rows)")
    for column in ("variant", "seconds", "pairs/s", "× vs one per forward", "tokens (real)", "tokens (padded)",
                   "tokens vs one-pair", "max |Δ score|"):
        table.add_column(column, justify="right" if column != "variant" else "left")
    for name, seconds, real, padded, scores in results:
        diff = max(abs(a - b) for a, b in zip(baseline, scores, strict=True))
        table.add_row(name, f"{seconds:.2f}", f"{len(pairs) / seconds:.1f}", f"{base_seconds / seconds:.2f}×",
                      f"{real:,}", f"{padded:,.0f}", f"{real / pair_tokens:.3f}", f"{diff:.1e}")
    console.print(table)
    console.print(f"tokenizing the {len(pairs)} rows (shared by all variants, not in the timings): {encode_seconds:.1f} s; "
                  f"rows cut to max_length: {sum(len(r) >= inputs.max_length for r in rows)}")
    console.print(f"packed: {packed_stats['n_packed_sequences']} sequences for {packed_stats['n_sequences']} distinct "
                  f"pairs in {packed_stats['n_batches']} batches; one-pair batched: {one_pair_stats['n_batches']} "
                  f"batches. max |Δ score| is against one pair per forward.")


if __name__ == "__main__":
    main()

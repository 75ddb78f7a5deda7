"""RM scoring throughput: the `rm` scorer (deduplicated, length-sorted token-budget batches through
Lightning's predict loop) vs scoring one (response, requirement) at a time with the same model, as the
paper's serving script does; plus plain fixed-size batches in input order. Same checkpoint, same inputs,
one process, printed side by side.

    python benchmarks/scoring_throughput.py [--input FILE --format levels] [--groups 20] [--model embedded:minilm]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from bench_common import add_group_args, saved_classifier  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from wrl_lightning.models.loading import load_sequence_classifier, load_tokenizer  # noqa: E402
from wrl_lightning.models.rm_inputs import pad_batch, padding_efficiency  # noqa: E402
from wrl_lightning.models.templates import RM_TEMPLATES  # noqa: E402
from wrl_lightning.scoring.rm import RMScorer  # noqa: E402
from wrl_lightning.weval.importers import load_groups  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_group_args(parser, groups=12)
    parser.add_argument("--model", default="embedded:minilm", help="sequence classifier (path, hub id, embedded:NAME)")
    parser.add_argument("--max-length", type=int, default=384, help="tokens per (response, requirement)")
    parser.add_argument("--batch-size", type=int, default=64, help="rows per batch (batched variants)")
    parser.add_argument("--max-tokens", type=int, default=16384, help="padded-token budget per batch (rm scorer)")
    return parser.parse_args()


def one_at_a_time(model, tokenizer, texts, max_length) -> list[float]:
    """The serving script's loop: tokenize one text, forward, softmax."""
    scores = []
    with torch.inference_mode():
        for text in texts:
            ids = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_length)
            scores.append(torch.softmax(model(**ids).logits, -1)[0, 1].item())
    return scores


def fixed_batches(model, tokenizer, texts, max_length, batch_size) -> tuple[list[float], float]:
    """Fixed-size batches in input order (no sorting, no dedup); returns scores and padding efficiency."""
    rows = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    batches = [list(range(i, min(i + batch_size, len(rows)))) for i in range(0, len(rows), batch_size)]
    scores = []
    with torch.inference_mode():
        for batch in batches:
            padded = pad_batch([rows[i] for i in batch], batch, tokenizer.pad_token_id)
            logits = model(input_ids=padded.input_ids, attention_mask=padded.attention_mask).logits
            scores.extend(torch.softmax(logits, -1)[:, 1].tolist())
    return scores, padding_efficiency([len(r) for r in rows], batches)


def main() -> None:
    args = parse_args()
    groups = load_groups(args.input, args.format)[: args.groups]
    items = [(g, r, q) for g, group in enumerate(groups) for r in range(len(group.responses)) for q in group.requirement_indices(r)]
    template = RM_TEMPLATES["paper"]
    texts = [template.format(response=groups[g].responses[r].text, requirement=groups[g].requirements[q].text) for g, r, q in items]
    console = Console()
    console.print(f"{len(items)} (response, requirement) pairs from {len(groups)} groups of {args.input.name}; "
                  f"model {args.model}; torch threads {torch.get_num_threads()}")

    with tempfile.TemporaryDirectory() as tmp:
        path = saved_classifier(args.model, Path(tmp))
        tokenizer = load_tokenizer(str(path))
        model = load_sequence_classifier(str(path)).eval()
        one_at_a_time(model, tokenizer, texts[:4], args.max_length)  # warm-up

        results = []
        started = time.perf_counter()
        baseline = one_at_a_time(model, tokenizer, texts, args.max_length)
        results.append(("one pair at a time (paper's server loop)", time.perf_counter() - started, None))

        started = time.perf_counter()
        plain, plain_efficiency = fixed_batches(model, tokenizer, texts, args.max_length, args.batch_size)
        results.append((f"fixed batches of {args.batch_size}, input order", time.perf_counter() - started, plain_efficiency))

        scorer = RMScorer(str(path), template="paper", max_length=args.max_length, batch_size=args.batch_size, max_tokens=args.max_tokens)
        started = time.perf_counter()
        ours = scorer.score_items(groups, items)
        results.append(("rm scorer (sorted, token budget, Lightning)", time.perf_counter() - started, scorer.stats["padding_efficiency"]))

    table = Table(title="RM scoring throughput (same model, same pairs)")
    for column in ("variant", "seconds", "pairs/s", "× vs one-at-a-time", "padding efficiency"):
        table.add_column(column, justify="right" if column != "variant" else "left")
    base_seconds = results[0][1]
    for name, seconds, efficiency in results:
        table.add_row(name, f"{seconds:.1f}", f"{len(items) / seconds:.1f}", f"{base_seconds / seconds:.2f}×",
                      "—" if efficiency is None else f"{efficiency:.2f}")
    console.print(table)
    # Long inputs are truncated differently on purpose (the rm scorer keeps the requirement, the server loop
    # cuts the text's end), so scores are compared on the pairs that fit.
    fits = [len(ids) <= args.max_length for ids in tokenizer(texts)["input_ids"]]
    max_diff = max((abs(a - b) for a, b, ok in zip(baseline, ours, fits, strict=True) if ok), default=0.0)
    plain_diff = max(abs(a - b) for a, b in zip(baseline, plain, strict=True))
    console.print(f"{len(fits) - sum(fits)} of {len(fits)} pairs exceed {args.max_length} tokens. Max |score difference| vs "
                  f"one-at-a-time: rm scorer {max_diff:.1e} (pairs that fit), fixed batches {plain_diff:.1e} (all)")


if __name__ == "__main__":
    main()

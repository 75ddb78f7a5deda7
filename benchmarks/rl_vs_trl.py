"""GRPO step time: our ``stage=rl`` (Lightning) vs TRL's GRPOTrainer, side by side in one run.

Same work on both sides: the same policy (``embedded:tiny-qwen2`` by default, fp32, sdpa, dropout off), the
first ``--prompts`` prompts of the embedded ``builtin_rl`` set (one user message through the tokenizer's
chat template), ``--n`` completions per prompt sampled at temperature 1 (top-p 1, no top-k) up to
``--max-new-tokens``, the same reward (``RuleReward``: the fraction of a prompt's verifiable requirements kept;
TRL gets it as a reward function with the prompt id in a dataset column), group-scaled advantages, beta 0 (no
reference model), clip 0.2, token-mean loss over the update, AdamW at a constant ``--lr``, gradient-norm clip 1,
and one optimizer update per rollout batch of prompts x n (split into ``--micro-batch`` slices on both sides).
No validation, evaluation, checkpointing or W&B on either side. The two sides alternate (ours, TRL, ours,
TRL, ... ``--repeats`` times) in one process; the first ``--warmup`` steps of every run are not timed.

A step is timed from the end of one optimizer step to the end of the next (ours: a Lightning callback passed
through the stage's ``callbacks`` config; TRL: a ``TrainerCallback.on_step_end``). Generation time per step is
the ``generate`` call alone (ours: logged by the rollout as ``perf/rollout_tokens_per_s``, read from the CSV
logger; TRL: the policy's ``generate`` wrapped with a timer); "rest" is the step minus generation (rewards,
advantages, forward/backward, optimizer, bookkeeping).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/rl_vs_trl.py [--prompts 4 --n 8 --max-new-tokens 32]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402

from wrl_lightning.rl.prompts import RLPrompt, load_rl_prompts  # noqa: E402
from wrl_lightning.rl.rewards import RuleReward  # noqa: E402
from wrl_lightning.utils.resolvers import BUILTIN_DIR  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONF_DIR = REPO / "wrl_lightning" / "conf"

#: Optimizer-step end times of the current run of ours (filled by :class:`StepTimer`).
OUR_STEP_ENDS: list[float] = []


class StepTimer(pl.Callback):
    """Wall clock at the end of every optimizer step (Hydra builds it from ``callbacks.timer._target_``)."""

    def __init__(self) -> None:
        self.seen = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step != self.seen:  # the batch that closed an accumulation window stepped the optimizer
            self.seen = trainer.global_step
            OUR_STEP_ENDS.append(time.perf_counter())


def step_seconds(ends: list[float], warmup: int) -> list[float]:
    """Durations of the steps after the first ``warmup`` (end of step k-1 to end of step k)."""
    return [b - a for a, b in zip(ends[warmup - 1:-1], ends[warmup:], strict=True)]


def first_prompts(count: int, directory: Path) -> tuple[Path, list[RLPrompt]]:
    """The first ``count`` builtin_rl prompts, as a ``prompts`` file for the stage and as RLPrompts."""
    lines = (BUILTIN_DIR / "rl_prompts.jsonl").read_text().splitlines()[:count]
    path = directory / "prompts.jsonl"
    path.write_text("\n".join(lines) + "\n")
    prompts = load_rl_prompts(path, "prompts")
    expected = load_rl_prompts(None, "builtin_rl")[:count]
    if [(p.id, p.text) for p in prompts] != [(p.id, p.text) for p in expected]:
        raise SystemExit("the prompt file does not reproduce the first builtin_rl prompts")
    return path, prompts


def check_prompt_tokens(model: str, prompts: list[RLPrompt]) -> bool:
    """Our rollout's prompt ids equal TRL's (``apply_chat_template(tokenize=True)`` of the conversation)."""
    from wrl_lightning.models.loading import load_tokenizer
    from wrl_lightning.rl.rollout import encode_prompt

    tokenizer = load_tokenizer(model)
    ours = [encode_prompt(tokenizer, p.text) for p in prompts]
    trl = tokenizer.apply_chat_template([[{"role": "user", "content": p.text}] for p in prompts],
                                        add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    return [list(x) for x in ours] == [list(x) for x in trl]


def read_csv_metrics(path: Path) -> dict[str, list[float]]:
    """Every non-empty value of each column of Lightning's metrics.csv, in row order."""
    columns: dict[str, list[float]] = {}
    with path.open() as handle:
        for row in csv.DictReader(handle):
            for key, value in row.items():
                if value not in ("", None):
                    columns.setdefault(key, []).append(float(value))
    return columns


def run_ours(args, prompt_file: Path, workdir: Path, index: int) -> dict:
    """``stage=rl`` through Hydra's compose + run_stage, in this process."""
    from hydra import compose, initialize_config_dir

    from wrl_lightning.utils.run import run_stage

    out = workdir / f"ours_{index}"
    rollouts = args.prompts * args.n
    overrides = [
        "stage=rl", "trainer=cpu", "logger=csv", f"seed={args.seed}", f"paths.output_dir={out}",
        "extras.print_config=false", f"model.policy.model_name={args.model}", f"model.policy.optimizer.lr={args.lr}",
        f"algorithm.n={args.n}", "algorithm.beta=0.0", "algorithm.ppo_epochs=1",
        f"rollout.max_new_tokens={args.max_new_tokens}", "rollout.temperature=1.0", "rollout.top_p=1.0",
        f"rl.prompts_per_round={args.prompts}", f"rl.update_batch={rollouts}", f"rl.micro_batch={args.micro_batch}",
        f"rl.rounds={args.warmup + args.steps}", f"rl.data.input={prompt_file}", "rl.data.format=prompts",
        "rl.data.val_fraction=0.0", "rl.val_every_rounds=null",
        "callbacks.progress_bar=null", "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false",
        f"+callbacks.timer._target_={StepTimer.__module__}.StepTimer",
    ]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    OUR_STEP_ENDS.clear()
    metrics = run_stage(cfg)
    if metrics["rounds"] != args.warmup + args.steps or len(OUR_STEP_ENDS) != args.warmup + args.steps:
        raise SystemExit(f"ours ran {metrics['rounds']} rounds / {len(OUR_STEP_ENDS)} optimizer steps, "
                         f"expected {args.warmup + args.steps}")
    logged = read_csv_metrics(out / "csv" / "version_0" / "metrics.csv")
    rollout_tps = logged["perf/rollout_tokens_per_s"][args.warmup:]
    lengths = logged["train/completion_tokens"][args.warmup:]
    return {"step_s": step_seconds(OUR_STEP_ENDS, args.warmup),
            "generate_s": [length * rollouts / tps for length, tps in zip(lengths, rollout_tps, strict=True)],
            "completion_tokens": [length * rollouts for length in lengths],
            "rollout_tps": rollout_tps,
            # update tokens/s is logged per Lightning batch (one micro-batch slice each)
            "update_tps": logged["perf/update_tokens_per_s"][args.warmup * args.accumulate:],
            "rewards": metrics["rewards"]}


def run_trl(args, prompts: list[RLPrompt], workdir: Path, index: int) -> dict:
    """TRL's GRPOTrainer on the same model, prompts, reward and batch shape."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from wrl_lightning.models.loading import load_causal_lm, load_tokenizer

    by_id = {p.id: p for p in prompts}
    rule = RuleReward()

    def rule_reward(prompts, completions, prompt_id, **kwargs):  # noqa: ARG001  (TRL's reward signature)
        texts = [c[-1]["content"].strip() if isinstance(c, list) else c.strip() for c in completions]
        return rule([by_id[i] for i in prompt_id], texts)

    ends: list[float] = []

    class Timer(TrainerCallback):
        def on_step_end(self, *_, **__):
            ends.append(time.perf_counter())

    torch.manual_seed(args.seed)
    model = load_causal_lm(args.model, attn_implementation="sdpa", dtype=torch.float32)
    tokenizer = load_tokenizer(args.model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    eos = model.generation_config.eos_token_id
    eos = set(eos if isinstance(eos, list | tuple) else [eos]) | {tokenizer.eos_token_id}
    generations: list[dict] = []
    plain_generate = model.generate

    def timed_generate(*gen_args, **gen_kwargs):
        start = time.perf_counter()
        output = plain_generate(*gen_args, **gen_kwargs)
        seconds = time.perf_counter() - start
        mask = gen_kwargs["attention_mask"]
        completion = output[:, mask.shape[1]:]
        is_eos = torch.isin(completion, torch.tensor(sorted(eos)))
        kept = ((is_eos.cumsum(dim=1) - is_eos.long()) == 0).sum()  # up to and including the first EOS
        generations.append({"seconds": seconds, "completion": int(kept), "real": int(mask.sum()) + int(kept)})
        return output

    model.generate = timed_generate
    rollouts = args.prompts * args.n
    config = GRPOConfig(
        output_dir=str(workdir / f"trl_{index}"), use_cpu=True, bf16=False, fp16=False, seed=args.seed,
        max_steps=args.warmup + args.steps, learning_rate=args.lr, lr_scheduler_type="constant", warmup_steps=0,
        weight_decay=0.0, optim="adamw_torch", max_grad_norm=1.0,
        per_device_train_batch_size=args.micro_batch, gradient_accumulation_steps=args.accumulate,
        steps_per_generation=args.accumulate,  # generation batch = micro x accumulation = prompts x n: one step
        num_generations=args.n, max_completion_length=args.max_new_tokens, temperature=1.0, top_p=1.0, top_k=0,
        beta=0.0, num_iterations=1, epsilon=0.2, scale_rewards="group", loss_type="dapo", disable_dropout=True,
        gradient_checkpointing=False,  # TRL defaults to True; ours runs without (model.policy.gradient_checkpointing)
        report_to=[], logging_steps=10_000, save_strategy="no", eval_strategy="no", disable_tqdm=True,
        dataloader_num_workers=0, log_completions=False,
    )
    if config.generation_batch_size != rollouts or config.steps_per_generation != args.accumulate:
        raise SystemExit(f"TRL generation batch {config.generation_batch_size}, expected {rollouts}")
    dataset = Dataset.from_list([{"prompt": [{"role": "user", "content": p.text}], "prompt_id": p.id} for p in prompts])
    trainer = GRPOTrainer(model=model, reward_funcs=rule_reward, args=config, train_dataset=dataset,
                          processing_class=tokenizer, callbacks=[Timer()])
    trainer.train()
    if len(ends) != args.warmup + args.steps or len(generations) != args.warmup + args.steps:
        raise SystemExit(f"TRL ran {len(ends)} optimizer steps / {len(generations)} generations, "
                         f"expected {args.warmup + args.steps}")
    timed = generations[args.warmup:]
    rewards = [row["reward"] for row in trainer.state.log_history if "reward" in row]
    return {"step_s": step_seconds(ends, args.warmup),
            "generate_s": [g["seconds"] for g in timed],
            "completion_tokens": [g["completion"] for g in timed],
            "rollout_tps": [g["completion"] / g["seconds"] for g in timed],
            "real_tokens": [g["real"] for g in timed],
            "update_tps": None, "rewards": rewards}


def summarize(name: str, runs: list[dict]) -> dict:
    """Pooled medians over the timed steps of every run of one side."""
    steps = [s for run in runs for s in run["step_s"]]
    generate = [s for run in runs for s in run["generate_s"]]
    rest = [s - g for run in runs for s, g in zip(run["step_s"], run["generate_s"], strict=True)]
    update = [v for run in runs for v in (run["update_tps"] or [])]
    return {"implementation": name, "runs": len(runs), "timed steps": len(steps),
            "s/step": statistics.median(steps), "min s/step": min(steps), "max s/step": max(steps),
            "per run s/step": [statistics.median(run["step_s"]) for run in runs],
            "generate s/step": statistics.median(generate),
            "rollout tokens/s": statistics.median([v for run in runs for v in run["rollout_tps"]]),
            "completion tokens/step": statistics.mean([v for run in runs for v in run["completion_tokens"]]),
            "rest s/step": statistics.median(rest),
            "update tokens/s": statistics.median(update) if update else None}


def table(ours: dict, trl: dict) -> str:
    """Markdown table; the last column is TRL's median s/step over this row's (>1: faster than TRL)."""
    head = ["implementation", "runs x timed steps", "s/step (median)", "min-max", "generate s/step", "rollout tokens/s",
            "completion tokens/step", "rest s/step", "update tokens/s", "TRL ÷ this"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in (ours, trl):
        update = f"{r['update tokens/s']:.0f}" if r["update tokens/s"] is not None else "-"
        lines.append(f"| {r['implementation']} | {r['runs']} x {r['timed steps'] // r['runs']} | {r['s/step']:.3f} | "
                     f"{r['min s/step']:.3f}-{r['max s/step']:.3f} | {r['generate s/step']:.3f} | "
                     f"{r['rollout tokens/s']:.0f} | {r['completion tokens/step']:.0f} | {r['rest s/step']:.3f} | "
                     f"{update} | {trl['s/step'] / r['s/step']:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded:tiny-qwen2", help="policy (path, hub id, embedded:NAME)")
    parser.add_argument("--prompts", type=int, default=4, help="prompts per rollout batch (first P of builtin_rl)")
    parser.add_argument("--n", type=int, default=8, help="completions per prompt (num_generations)")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="completion token budget")
    parser.add_argument("--micro-batch", type=int, default=None, help="rollouts per forward/backward (default: P x n)")
    parser.add_argument("--lr", type=float, default=3e-3, help="constant AdamW learning rate (both sides)")
    parser.add_argument("--steps", type=int, default=6, help="timed optimizer steps per run")
    parser.add_argument("--warmup", type=int, default=1, help="untimed optimizer steps first, in every run")
    parser.add_argument("--repeats", type=int, default=2, help="runs per side, alternating ours / TRL")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    rollouts = args.prompts * args.n
    args.micro_batch = args.micro_batch or rollouts
    if rollouts % args.micro_batch:
        raise SystemExit(f"--micro-batch {args.micro_batch} must divide prompts x n = {rollouts}")
    args.accumulate = rollouts // args.micro_batch
    if args.warmup < 1:
        raise SystemExit("--warmup must be at least 1 (the first step loads and compiles)")

    import transformers
    import trl

    print("command:", shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv])))
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), pytorch_lightning {pl.__version__}, "
          f"transformers {transformers.__version__}, trl {trl.__version__}")
    workdir = Path(tempfile.mkdtemp(prefix="rl_vs_trl_"))
    prompt_file, prompts = first_prompts(args.prompts, workdir)
    print(f"{args.model}; prompts {', '.join(p.id for p in prompts)}; n={args.n}; {rollouts} rollouts per step in "
          f"{args.accumulate} micro-batch(es) of {args.micro_batch}; max_new_tokens={args.max_new_tokens}; "
          f"lr={args.lr}; {args.warmup} warmup + {args.steps} timed steps per run, {args.repeats} runs per side; "
          f"prompt token ids identical on both sides: {check_prompt_tokens(args.model, prompts)}")
    ours, theirs = [], []
    for index in range(args.repeats):
        ours.append(run_ours(args, prompt_file, workdir, index))
        print(f"ours run {index}: median {statistics.median(ours[-1]['step_s']):.3f} s/step")
        theirs.append(run_trl(args, prompts, workdir, index))
        print(f"TRL run {index}: median {statistics.median(theirs[-1]['step_s']):.3f} s/step")
    results = [summarize("stage=rl (ours, Lightning)", ours), summarize("TRL GRPOTrainer", theirs)]
    print()
    print(table(*results))
    print(f"\nper-run medians (s/step): ours {[round(v, 3) for v in results[0]['per run s/step']]}, "
          f"TRL {[round(v, 3) for v in results[1]['per run s/step']]}; run folders under {workdir}")
    if args.out:
        Path(args.out).write_text(json.dumps({"args": vars(args), "results": results,
                                              "runs": {"ours": ours, "trl": theirs}}, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()

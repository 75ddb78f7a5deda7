"""GRPO as a LightningModule: rollouts from the live policy, rewards, group-normalised advantages, clipped updates.

Shape (automatic optimization with a rollout buffer): the datamodule yields each round's prompts once per
Lightning batch of the round. At the round's first batch (``on_train_batch_start``, outside any engine's
forward) the module samples ``n`` completions per prompt, scores them with the reward sources, gathers the
rewards of all ranks, computes advantages, and, where needed, the old and reference log-probs. Each
``training_step`` then returns the loss of one micro-batch slice of the buffer; Lightning accumulates
``accumulate_grad_batches`` slices per optimizer update, and ``ppo_epochs`` passes go over the buffer (each
in a fresh seeded order). The reference model is a frozen copy (absent at ``beta=0``; with LoRA the base
model with adapters off).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from wrl_lightning.errors import ConfigError
from wrl_lightning.models.backbone import BackboneModule, plain_data
from wrl_lightning.models.chat import position_ids
from wrl_lightning.models.loading import load_causal_lm
from wrl_lightning.requirements.ifeval_eval import follows_requirements
from wrl_lightning.rl.advantages import frac_zero_std, group_advantages
from wrl_lightning.rl.losses import logprobs_and_entropy, policy_loss
from wrl_lightning.rl.prompts import RLPrompt
from wrl_lightning.rl.rewards import RewardSource, combine
from wrl_lightning.rl.rollout import Rollouts
from wrl_lightning.training.distributed import all_gather_objects, all_gather_tensor, rank_and_world
from wrl_lightning.utils.files import write_jsonl


@dataclass
class RoundBuffer:
    """One round's rollouts and what the update needs of them."""

    rollouts: Rollouts
    advantages: torch.Tensor
    old_logp: torch.Tensor | None
    ref_logp: torch.Tensor | None
    orders: list[torch.Tensor]  # one row order per ppo epoch
    tokens_per_update: float    # completion tokens of one optimizer update on this rank


class PolicyLitModule(BackboneModule):
    """A causal LM trained with GRPO on rewards of its own completions.

    Args:
        model_name: policy (hub id, folder or ``embedded:NAME``).
        optimizer: partial optimizer (``optimizer(params=...)``).
        rollout: a rollout backend (:mod:`wrl_lightning.rl.rollout`).
        rewards: reward sources by name; ``reward_weights`` weighs them (default 1 each).
        n: completions per prompt (the group size).
        beta: weight of the KL-to-reference loss (0: no reference model is loaded).
        kl_estimator: k1 | k2 | k3 (low_var_kl).
        clip / clip_high: the ratio's lower / upper clip range (clip_high None = clip).
        scale_rewards: group | batch | none (the advantage's divisor).
        loss_agg: token_mean | seq_mean_token_mean | seq_mean_token_sum.
        entropy_coef: weight of the entropy bonus (0 = off).
        ppo_epochs: passes over each round's rollouts.
        micro_batch: rollouts per forward/backward on each rank.
        accumulate: micro-batches per optimizer update (the stage sets it from the batch arithmetic).
        scheduler: partial HF scheduler or None; warmup_ratio: its warmup share.
        lora: peft ``LoraConfig`` kwargs, or None for full fine-tuning.
        gradient_checkpointing / disable_dropout / attn_implementation / dtype / trust_remote_code: as the RM's.
        val_temperature: sampling temperature of validation answers (0 = greedy).
        completions_dir: where each validation writes its completions (JSONL); None = not written.
    """

    def __init__(self, model_name: str, optimizer: Callable[..., torch.optim.Optimizer], rollout: Any,
                 rewards: dict[str, RewardSource], reward_weights: dict[str, float] | None = None, n: int = 4,
                 beta: float = 0.0, kl_estimator: str = "k3", clip: float = 0.2, clip_high: float | None = None,
                 scale_rewards: str = "group", loss_agg: str = "token_mean", entropy_coef: float = 0.0,
                 ppo_epochs: int = 1, micro_batch: int = 4, accumulate: int = 1,
                 scheduler: Callable[..., Any] | None = None, warmup_ratio: float = 0.0,
                 lora: dict[str, Any] | None = None, gradient_checkpointing: bool = False, disable_dropout: bool = True,
                 attn_implementation: str | None = "sdpa", dtype: str | None = None, trust_remote_code: bool = False,
                 val_temperature: float = 0.0, completions_dir: str | None = None, seed: int = 0):
        super().__init__(optimizer, scheduler)
        if not rewards:
            raise ConfigError("rl.rewards", "no reward source: add one, e.g. +reward@rl.rewards.rule=rule")
        lora = plain_data(lora)
        self.save_hyperparameters(logger=False, ignore=["optimizer", "scheduler", "rollout", "rewards"])
        self.rollout, self.rewards = rollout, dict(rewards)
        self.reward_weights = dict(reward_weights or {})
        self.reference: nn.Module | None = None
        self._buffer: RoundBuffer | None = None
        self._rewards_ready = False
        self.round_rewards: list[float] = []  # mean training reward of each round (reward_start / reward_end)
        self.validations: list[dict[str, float]] = []  # every validation's metrics, in order
        self._step_started = 0.0

    # ---- model -------------------------------------------------------------------------------------------
    def configure_model(self) -> None:
        """Build the policy (once), with LoRA / gradient checkpointing, and the frozen reference if ``beta > 0``
        (with LoRA the base model with adapters off serves as the reference)."""
        if self.model is not None:
            return
        self.model = self.build_backbone(load_causal_lm, "CAUSAL_LM")
        if self.hparams.beta > 0 and not self.hparams.lora:
            self.reference = self.load_backbone(load_causal_lm).eval().requires_grad_(False)

    def _reference_context(self):
        """Where reference log-probs come from: the frozen copy, or the LoRA base with adapters off."""
        return self.model.disable_adapter() if self.hparams.lora else nullcontext()

    def token_logprobs(self, model: nn.Module, rollouts: Rollouts, with_entropy: bool = False):
        """Per completion token log-probs (temperature-scaled, as sampled) and optionally entropies."""
        logits = model(input_ids=rollouts.input_ids, attention_mask=rollouts.attention_mask,
                       position_ids=position_ids(rollouts.attention_mask)).logits
        logits = logits[:, rollouts.prompt_length - 1:-1]
        logp, entropy = logprobs_and_entropy(logits, rollouts.completion_ids, max(self.rollout.temperature, 1e-6))
        return (logp, entropy) if with_entropy else logp

    @torch.no_grad()
    def _logprobs_in_slices(self, model: nn.Module, rollouts: Rollouts) -> torch.Tensor:
        size = self.hparams.micro_batch
        parts = [self.token_logprobs(model, rollouts.rows(torch.arange(i, min(i + size, len(rollouts.texts)))))
                 for i in range(0, len(rollouts.texts), size)]
        return torch.cat(parts)

    # ---- rewards -----------------------------------------------------------------------------------------
    def _ready(self) -> None:
        if not self._rewards_ready:
            for source in self.rewards.values():
                source.setup(self.device)
            self._rewards_ready = True

    def score(self, prompts: Sequence[RLPrompt], completions: Sequence[str]) -> tuple[torch.Tensor, dict[str, list[float]]]:
        """Combined rewards (float32, NaN where no source judged) and each source's values."""
        self._ready()
        parts = {name: [float(v) for v in source(prompts, completions)] for name, source in self.rewards.items()}
        return combine(parts, self.reward_weights), parts

    # ---- one round ---------------------------------------------------------------------------------------
    def _synced_gpus(self) -> bool:
        config = getattr(self.trainer.strategy, "config", None) or {}
        return config.get("zero_optimization", {}).get("stage") == 3

    def _slices_per_epoch(self, n_rows: int) -> int:
        return max(1, n_rows // self.hparams.micro_batch)

    def batches_per_round(self, prompts_on_rank: int) -> int:
        """Lightning batches of one round: micro-batch slices x ppo epochs."""
        return self._slices_per_epoch(prompts_on_rank * self.hparams.n) * self.hparams.ppo_epochs

    def on_train_batch_start(self, batch: list[RLPrompt], batch_idx: int) -> None:
        if batch_idx % self.batches_per_round(len(batch)) == 0:
            self._buffer = self._make_round(batch, batch_idx // self.batches_per_round(len(batch)))
        self._step_started = time.perf_counter()

    def _make_round(self, prompts: list[RLPrompt], round_index: int) -> RoundBuffer:
        hp = self.hparams
        rollouts = self.rollout.generate(self.model, self.tokenizer, [p.text for p in prompts], hp.n,
                                         synced_gpus=self._synced_gpus())
        repeated = [p for p in prompts for _ in range(hp.n)]
        rewards, parts = self.score(repeated, rollouts.texts)
        everyone = all_gather_tensor(rewards.to(self.device)).cpu()  # groups are whole on each rank
        rank, _ = rank_and_world()
        advantages = group_advantages(everyone, hp.n, hp.scale_rewards)[rank * len(rewards):(rank + 1) * len(rewards)]
        n_rows = len(rollouts.texts)
        updates_per_epoch = self._slices_per_epoch(n_rows) // max(1, hp.accumulate)
        on_policy = hp.ppo_epochs == 1 and updates_per_epoch <= 1
        old_logp = None if on_policy else self._logprobs_in_slices(self.model, rollouts)
        ref_logp = None
        if hp.beta > 0:
            with self._reference_context():
                ref_logp = self._logprobs_in_slices(self.reference or self.model, rollouts)
        generator = torch.Generator().manual_seed(hp.seed * 100003 + round_index)
        orders = [torch.randperm(n_rows, generator=generator) for _ in range(hp.ppo_epochs)]
        tokens = float(rollouts.completion_mask.sum()) / max(1, updates_per_epoch)
        self._log_round(rewards, parts, everyone, rollouts)
        return RoundBuffer(rollouts, advantages.to(self.device), old_logp, ref_logp, orders, max(tokens, 1.0))

    def _log_round(self, rewards: torch.Tensor, parts: dict[str, list[float]], everyone: torch.Tensor,
                   rollouts: Rollouts) -> None:
        valid = everyone[~torch.isnan(everyone)]
        mean = float(valid.mean()) if len(valid) else math.nan
        self.round_rewards.append(mean)
        lengths = rollouts.completion_mask.sum(dim=1)
        values = {
            "train/reward": mean,
            "train/reward_std": float(valid.std()) if len(valid) > 1 else 0.0,
            "train/frac_reward_zero_std": float(frac_zero_std(everyone, self.hparams.n)),
            "train/completion_tokens": float(lengths.mean()),
            "train/truncated": float(rollouts.truncated.float().mean()),
            "perf/rollout_tokens_per_s": float(lengths.sum()) / max(rollouts.seconds, 1e-9),
        }
        for name, part in parts.items():
            tensor = torch.tensor(part)
            values[f"train/reward/{name}"] = float(tensor.nanmean()) if not torch.isnan(tensor).all() else math.nan
        self.log_dict(values, on_step=True, on_epoch=False, batch_size=len(rollouts.texts))

    # ---- update ------------------------------------------------------------------------------------------
    def training_step(self, batch: list[RLPrompt], batch_idx: int) -> torch.Tensor:
        hp, buffer = self.hparams, self._buffer
        slices = self._slices_per_epoch(len(buffer.rollouts.texts))
        epoch, k = divmod(batch_idx % self.batches_per_round(len(batch)), slices)
        index = buffer.orders[epoch][k * hp.micro_batch:(k + 1) * hp.micro_batch]
        rows = buffer.rollouts.rows(index)
        rows = Rollouts(rows.input_ids.to(self.device), rows.attention_mask.to(self.device),
                        rows.completion_mask.to(self.device), rows.prompt_length, rows.texts, rows.truncated, rows.seconds)
        logp, entropy = self.token_logprobs(self.model, rows, with_entropy=True)

        def pick(values: torch.Tensor | None) -> torch.Tensor | None:
            return None if values is None else values[index].to(self.device)

        # token_mean over the whole update: Lightning divides each slice's loss by `accumulate` afterwards
        num_tokens = buffer.tokens_per_update / max(1, hp.accumulate)
        loss, stats = policy_loss(
            logp, buffer.advantages[index], rows.completion_mask, pick(buffer.old_logp), clip=hp.clip,
            clip_high=hp.clip_high, ref_logp=pick(buffer.ref_logp), beta=hp.beta, kl_estimator=hp.kl_estimator,
            entropy=entropy, entropy_coef=hp.entropy_coef, aggregation=hp.loss_agg, num_tokens=num_tokens,
            max_len=float(rows.completion_mask.shape[1]),
        )
        self.log("train/loss", loss, on_step=True, prog_bar=True, batch_size=len(index))
        self.log_dict({f"train/{k}": v for k, v in stats.items()}, on_step=True, batch_size=len(index))
        return loss

    def on_train_batch_end(self, outputs: Any, batch: list[RLPrompt], batch_idx: int) -> None:
        seconds = time.perf_counter() - self._step_started
        tokens = float(self._buffer.rollouts.attention_mask.sum()) / self._slices_per_epoch(len(self._buffer.rollouts.texts))
        self.log("perf/update_tokens_per_s", tokens / max(seconds, 1e-9), on_step=True, batch_size=1)

    # ---- validation --------------------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._val_rows: list[dict[str, Any]] = []

    def validation_step(self, batch: list[RLPrompt], batch_idx: int) -> None:
        rollouts = self.rollout.generate(self.model, self.tokenizer, [p.text for p in batch], 1,
                                         synced_gpus=self._synced_gpus(), temperature=self.hparams.val_temperature)
        rewards, parts = self.score(batch, rollouts.texts)
        for i, (prompt, text) in enumerate(zip(batch, rollouts.texts, strict=True)):
            strict, loose = follows_requirements(prompt.verifiable, prompt.text, text)
            self._val_rows.append({
                "id": prompt.id, "prompt": prompt.text, "response": text, "reward": float(rewards[i]),
                **{f"reward/{name}": part[i] for name, part in parts.items()},
                "strict": strict, "loose": loose, "tokens": float(rollouts.completion_mask[i].sum()),
                "truncated": bool(rollouts.truncated[i]),
            })

    def on_validation_epoch_end(self) -> None:
        rows = [row for part in all_gather_objects(self._val_rows) for row in part]
        if not rows or self.trainer.sanity_checking:
            return
        metrics = validation_metrics(rows, list(self.rewards))
        self.validations.append({"step": self.global_step, **metrics})
        self.log_dict({f"val/{k}": v for k, v in metrics.items()}, rank_zero_only=True, batch_size=len(rows))
        if self.trainer.is_global_zero and self.hparams.completions_dir:
            write_jsonl(f"{self.hparams.completions_dir}/step_{self.global_step:06d}.jsonl", rows)
            for logger in self.trainer.loggers:
                if hasattr(logger, "log_table"):
                    columns = ["id", "prompt", "response", "reward"]
                    logger.log_table(key="val/completions", columns=columns, data=[[r[c] for c in columns] for r in rows])

    # ---- optimizer / export ------------------------------------------------------------------------------


def validation_metrics(rows: list[dict[str, Any]], sources: list[str]) -> dict[str, float]:
    """Mean reward (overall and per source), lengths, and IFEval-style accuracies over verifiable requirements."""
    def mean(values: list[float]) -> float:
        values = [v for v in values if not math.isnan(v)]
        return sum(values) / len(values) if values else math.nan

    judged = [row for row in rows if row["strict"]]
    flags = {mode: [f for row in judged for f in row[mode]] for mode in ("strict", "loose")}
    metrics = {
        "reward": mean([row["reward"] for row in rows]),
        "completion_tokens": mean([row["tokens"] for row in rows]),
        "truncated": mean([float(row["truncated"]) for row in rows]),
        "n_prompts": float(len(rows)),
        **{f"reward/{name}": mean([row[f"reward/{name}"] for row in rows]) for name in sources},
    }
    for mode in ("strict", "loose"):
        metrics[f"prompt_level_{mode}"] = mean([float(all(row[mode])) for row in judged])
        metrics[f"instruction_level_{mode}"] = mean([float(f) for f in flags[mode]])
    return metrics


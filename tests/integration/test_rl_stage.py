"""``stage=rl`` end to end on CPU: GRPO rounds through a real Trainer, validation before/after, export, the batch
arithmetic checks, and rewards gathered across 2 DDP processes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

from wrl_lightning.errors import ConfigError
from wrl_lightning.rl.prompts import RLPrompt
from wrl_lightning.rl.rewards import RewardSource
from wrl_lightning.training.distributed import rank_and_world
from wrl_lightning.utils.run import run_stage

REPO = Path(__file__).resolve().parents[2]
QUICK = ["+experiment=rl_tiny", "logger=csv", "callbacks.progress_bar=null", "rl.rounds=2", "rl.data.max_val_prompts=2",
         "rollout.max_new_tokens=8"]


class RankReward(RewardSource):
    """1.0 on rank 0 and 0.0 elsewhere: the logged mean shows whether rewards were gathered over ranks."""

    def __call__(self, prompts: Sequence[RLPrompt], completions: Sequence[str]) -> list[float]:
        rank, _ = rank_and_world()
        return [1.0 if rank == 0 else 0.0] * len(completions)


def test_rl_tiny_trains_validates_and_exports(make_cfg, tmp_path):
    from transformers import AutoModelForCausalLM

    from wrl_lightning.models.loading import load_causal_lm

    out = tmp_path / "run"
    metrics = run_stage(make_cfg(QUICK, out))
    assert metrics["rounds"] == 2 and len(metrics["rewards"]) == 2
    for key in ("reward_start", "reward_end", "val_before/reward", "val_after/reward", "val_before/prompt_level_strict",
                "val_after/instruction_level_loose", "val_after/reward/rule", "val_after/completion_tokens"):
        assert key in metrics, key
    assert metrics["val_before/step"] == 0 and metrics["val_after/step"] == 2 * 48 // 24  # 2 updates per round
    trained = AutoModelForCausalLM.from_pretrained(metrics["export_dir"])
    base = load_causal_lm("embedded:tiny-qwen2")
    changed = [name for name, p in trained.named_parameters() if not torch.equal(p, base.get_parameter(name))]
    assert changed, "no parameter changed"
    assert (out / "reward_curve.png").is_file() and sorted(p.name for p in (out / "completions").iterdir()) == [
        "step_000000.jsonl", "step_000004.jsonl"]
    row = json.loads((out / "completions" / "step_000004.jsonl").read_text().splitlines()[0])
    assert {"prompt", "response", "reward", "strict", "loose"} <= row.keys()
    header = (out / "csv" / "version_0" / "metrics.csv").read_text().splitlines()[0].split(",")
    for key in ("train/reward", "train/reward/rule", "train/frac_reward_zero_std", "train/clip_frac",
                "train/truncated", "perf/rollout_tokens_per_s", "perf/update_tokens_per_s", "train/entropy"):
        assert key in header, key


@pytest.mark.parametrize(("overrides", "key"), [
    (["algorithm.n=1"], "algorithm.n"),
    (["rl.update_batch=36"], "rl.update_batch"),
    (["rl.micro_batch=5"], "rl.micro_batch"),
    (["rl.rewards.rule=null"], "rl.rewards"),
])
def test_batch_arithmetic_is_checked_before_loading(make_cfg, tmp_path, overrides, key):
    with pytest.raises(ConfigError, match=rf"^config error: {key}"):
        run_stage(make_cfg([*QUICK, *overrides], tmp_path / "run"))


def test_kl_and_several_updates_per_round(make_cfg, tmp_path):
    """beta > 0 loads the reference; ppo_epochs 2 reuses the rollouts off-policy (old log-probs, clipping)."""
    metrics = run_stage(make_cfg([*QUICK, "algorithm.beta=0.05", "algorithm.ppo_epochs=2", "rl.rounds=1",
                                  "algorithm.loss_agg=seq_mean_token_mean"], tmp_path / "run"))
    header = (tmp_path / "run" / "csv" / "version_0" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert "train/kl" in header and metrics["val_after/step"] == 4


def test_rewards_are_gathered_over_two_ddp_processes(tmp_path, tiny_model_dir):
    """(``tiny_model_dir`` builds the embedded policy in the cache both ranks then read.)"""
    from tests.conftest import child_env  # not at module level: the ranks import this module for RankReward
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "wrl_lightning", *QUICK, "rl.rewards.rule=null",
         f"+rl.rewards.rank._target_={__name__}.RankReward", "trainer.devices=2", "strategy=ddp",
         "algorithm.scale_rewards=batch", "extras.print_config=false", f"paths.output_dir={out}"],
        cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["rewards"] == [0.5, 0.5]  # rank 0 saw 1.0, rank 1 saw 0.0: the mean is over both
    assert metrics["val_after/reward"] == 0.5  # validation rows of both ranks


@pytest.mark.parametrize(("experiment", "accumulate"), [("rl_tiny", 2), ("rl_smollm2", 4), ("rl_qwen1_5b", 10),
                                                        ("rl_qwen7b", 3)])
def test_experiments_compose_and_their_batches_fit(make_cfg, experiment, accumulate):
    from wrl_lightning.rl.data import check_batch_arithmetic

    cfg = make_cfg([f"+experiment={experiment}"])
    world = cfg.trainer.devices * cfg.trainer.num_nodes
    assert check_batch_arithmetic(cfg.rl.prompts_per_round, cfg.algorithm.n, cfg.rl.update_batch, cfg.rl.micro_batch,
                                  world) == accumulate
    if experiment == "rl_qwen7b":  # the paper's recipe
        assert (cfg.rl.prompts_per_round, cfg.algorithm.n, cfg.rl.update_batch, world) == (384, 5, 96, 8)
        assert (cfg.model.policy.optimizer.lr, cfg.model.policy.optimizer.weight_decay) == (1e-6, 0.01)
        assert (cfg.algorithm.beta, cfg.algorithm.kl_estimator, cfg.algorithm.clip, cfg.rollout.temperature) == (
            0.01, "k3", 0.2, 1.0)
        assert cfg.rl.rewards.rule is None and "rm_per_requirement" in cfg.rl.rewards

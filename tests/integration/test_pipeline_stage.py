"""``stage=pipeline`` end to end: pairs → RM training → WEval of the RM and the baselines on held-out groups →
GRPO rewarded by that RM, and the one summary (summary.md, summary.png, the last screen)."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from wrl_lightning.utils.run import run_stage

SCORERS = ("rm", "length", "random")
QUICK_PAIRS = 'pipeline.pairs=["pairs.limit=12"]'
QUICK_RM = 'pipeline.rm=["stage=rm","trainer=cpu","trainer.max_steps=3","data.max_length=128","callbacks.progress_bar=null"]'
QUICK_RL = ('pipeline.rl=["+experiment=rl_tiny","~rl.rewards.rule","rl.data.checkers=null","rl.rounds=2",'
            '"rl.prompts_per_round=4","rl.update_batch=8","rl.micro_batch=8","rollout.max_new_tokens=8",'
            '"rl.data.max_val_prompts=2","callbacks.progress_bar=null"]')


def _check_outputs(out, metrics: dict) -> None:
    """Every step's folder, the held-out table and plots of each scorer, one metrics.json with all keys, the RL
    step rewarded by the trained RM, the summary at the top of the run folder, no RM checkpoint left."""
    assert (out / "pairs" / "pairs_train.jsonl").exists() and (out / "rm" / "export" / "config.json").exists()
    assert not (out / "rm" / "checkpoints").exists()  # pipeline.checkpoints=none: the export holds the weights
    for name in SCORERS:
        assert (out / f"weval_{name}" / "table.md").exists() and (out / f"weval_{name}" / "plot_by_size.png").exists()
        assert metrics[f"weval_{name}/n_groups"] == metrics["weval_rm/n_groups"] > 0
    assert json.loads((out / "metrics.json").read_text())["rm/export_dir"] == str(out / "rm" / "export")
    rl_config = (out / "rl" / "config.yaml").read_text()
    assert "RMPerRequirementReward" in rl_config and str(out / "rm" / "export") in rl_config and "RuleReward" not in rl_config
    assert (out / "rl" / "reward_curve.png").read_bytes().startswith(b"\x89PNG")
    assert math.isfinite(metrics["rl/reward_start"]) and math.isfinite(metrics["rl/reward_end"])
    assert (out / "summary.png").read_bytes().startswith(b"\x89PNG")
    summary = (out / "summary.md").read_text()
    assert f"WEval on {metrics['weval_rm/n_groups']} held-out groups" in summary
    for name in SCORERS:  # every scorer's row carries its interval, as metrics.json has it
        tau = f"{100 * metrics[f'weval_{name}/kendall_tau']:.1f} [{100 * metrics[f'weval_{name}/kendall_tau_ci_low']:.1f}, "
        assert f"| {name} | {tau}" in summary
    assert f"{metrics['rl/reward_start']:.4f} → {metrics['rl/reward_end']:.4f}" in summary


def test_pipeline_runs_every_step_and_summarises_them(make_cfg, tmp_path, capsys):
    out = tmp_path / "run"
    metrics = run_stage(make_cfg(["stage=pipeline", "pipeline.logger=none", QUICK_PAIRS, QUICK_RM, QUICK_RL], out))
    _check_outputs(out, metrics)
    assert metrics["pairs/weval_groups/count"] == metrics["weval_rm/n_groups"]
    assert metrics["rm/data/weval_groups"] == metrics["weval_rm/n_groups"]  # the RM validated on the same groups
    assert metrics["summary_md"] == str(out / "summary.md")
    printed = capsys.readouterr().out
    screen = printed[printed.index(f"WEval on {metrics['weval_rm/n_groups']} held-out groups"):]  # the last screen
    assert "mean reward" in screen and str(out) in screen and "rl/reward_curve.png" in screen and "summary.png" in screen


def test_rl_step_can_be_skipped(make_cfg, tmp_path, capsys):
    out = tmp_path / "run"
    metrics = run_stage(make_cfg(["stage=pipeline", "pipeline.logger=none", QUICK_PAIRS, QUICK_RM, "pipeline.rl=null",
                                  "pipeline.baselines=[length]", "pipeline.checkpoints=last"], out))
    assert not (out / "rl").exists() and not any(key.startswith("rl/") for key in metrics)
    groups = {yaml.safe_load((out / step / "config.yaml").read_text())["logger"]["group"] for step in ("pairs", "rm", "weval_rm")}
    assert groups == {f"pipeline-{out.name}"}  # the steps of one pipeline share one W&B group
    kept = list((out / "rm" / "checkpoints").iterdir())  # the newest checkpoint only (last.ckpt, maybe a link to it)
    assert "last.ckpt" in [p.name for p in kept] and len({p.resolve() for p in kept}) == 1
    assert "| length |" in (out / "summary.md").read_text() and "## RL" not in (out / "summary.md").read_text()
    assert "mean reward" not in capsys.readouterr().out


@pytest.mark.slow  # the full `make demo` job: a few minutes on 2 cores
def test_demo_job_runs_and_its_rm_scores_agree_across_stages(make_cfg, tmp_path):
    out = tmp_path / "demo"
    metrics = run_stage(make_cfg(["+experiment=demo", "pipeline.logger=none"], out))
    _check_outputs(out, metrics)
    # the RM's last validation pass and the WEval stage rank the same held-out groups with the same inputs
    assert metrics["rm/val/weval/kendall_tau"] == pytest.approx(metrics["weval_rm/kendall_tau"], abs=1e-6)

"""``stage=pipeline`` end to end: pairs → RM training → WEval of the RM and the baselines on held-out groups."""

from __future__ import annotations

import json

import pytest

from wrl_lightning.utils.run import run_stage

SCORERS = ("rm", "length", "random")


def _check_outputs(out, metrics: dict) -> None:
    """Every step's folder, the held-out table and plots of each scorer, one metrics.json with all keys."""
    assert (out / "pairs" / "pairs_train.jsonl").exists() and (out / "rm" / "export" / "config.json").exists()
    for name in SCORERS:
        assert (out / f"weval_{name}" / "table.md").exists() and (out / f"weval_{name}" / "plot_by_size.png").exists()
        assert metrics[f"weval_{name}/n_groups"] == metrics["weval_rm/n_groups"] > 0
    assert json.loads((out / "metrics.json").read_text())["rm/export_dir"] == str(out / "rm" / "export")


def test_pipeline_runs_every_step_on_held_out_groups(make_cfg, tmp_path, capsys):
    out = tmp_path / "run"
    cfg = make_cfg(["stage=pipeline", "pipeline.logger=none", 'pipeline.pairs=["pairs.limit=12"]',
                    'pipeline.rm=["stage=rm","trainer=cpu","trainer.max_steps=3","data.max_length=128","callbacks.progress_bar=null"]'],
                   out)
    metrics = run_stage(cfg)
    _check_outputs(out, metrics)
    assert metrics["pairs/weval_groups/count"] == metrics["weval_rm/n_groups"]
    assert metrics["rm/data/weval_groups"] == metrics["weval_rm/n_groups"]  # the RM validated on the same groups
    printed = capsys.readouterr().out
    assert "held-out groups" in printed and str(out / "weval_rm") in printed


@pytest.mark.slow  # the full `make demo` job: ~4 min on 2 cores
def test_demo_job_runs_and_its_rm_scores_agree_across_stages(make_cfg, tmp_path):
    out = tmp_path / "demo"
    metrics = run_stage(make_cfg(["+experiment=demo", "pipeline.logger=none"], out))
    _check_outputs(out, metrics)
    # the RM's last validation pass and the WEval stage rank the same held-out groups with the same inputs
    assert metrics["rm/val/weval/kendall_tau"] == pytest.approx(metrics["weval_rm/kendall_tau"], abs=1e-6)

"""``stage=rm`` end to end: train, WEval validation, export, resume, the rm_tiny experiment and DDP on CPU."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from safetensors.torch import load_file

from tests.conftest import child_env
from tests.unit.test_reward_module import write_groups
from wrl_lightning.models.loading import resolve_model_path
from wrl_lightning.training import builders
from wrl_lightning.utils.run import run_stage

REPO = Path(__file__).resolve().parents[2]
TINY_RUN = ["stage=rm", "logger=csv", "callbacks.progress_bar=null", "trainer.accelerator=cpu", "trainer.devices=1",
            "data.format=canonical", "data.val_fraction=0.25", "data.max_length=256"]


@pytest.fixture
def toy_file(tmp_path) -> Path:
    return write_groups(tmp_path / "groups.jsonl", n_groups=8)


@pytest.mark.parametrize("weights", ["last", "best"])
def test_rm_stage_trains_validates_and_exports(make_cfg, toy_file, tmp_path, weights):
    from transformers import AutoModelForSequenceClassification

    out = tmp_path / "run"
    metrics = run_stage(make_cfg([*TINY_RUN, f"data.input={toy_file}", f"rm.export.weights={weights}"], out))
    for key in ("val/loss", "val/auroc", "val/acc", "val/f1", "val/ece", "val/type/lexical/auroc",
                "val/weval/kendall_tau", "val/weval/position_consistency", "val/weval/exact_match"):
        assert key in metrics, key
    assert metrics["data/weval_groups"] == 2 and metrics["export_dir"] == str(out / "export")
    model = AutoModelForSequenceClassification.from_pretrained(metrics["export_dir"])
    assert model.config.num_labels == 2 and "{requirement}" in model.config.wrl_template
    assert (out / "checkpoints" / "last.ckpt").exists() and Path(metrics["best_checkpoint"]).exists()
    assert len((out / "weval_val_groups.jsonl").read_text().splitlines()) == 2
    assert json.loads((out / "metrics.json").read_text())["export_dir"] == metrics["export_dir"]


def test_monitor_on_weval_needs_weval_groups(make_cfg, tmp_path):
    from wrl_lightning.errors import ConfigError

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt": f"P{i}", "response": "R", "requirement": "Be short.", "label": i % 2,
                                         "group_id": f"g{i}"}) + "\n" for i in range(8)))
    with pytest.raises(ConfigError, match="callbacks.model_checkpoint.monitor"):
        run_stage(make_cfg([*TINY_RUN, f"data.input={pairs}", "data.format=pairs"], tmp_path / "run"))


@pytest.mark.parametrize("debug", ["fdr", "overfit", "limit"])
def test_debug_configs_run(make_cfg, toy_file, tmp_path, debug):
    overrides = [*TINY_RUN, f"data.input={toy_file}", f"+debug={debug}", "trainer.max_epochs=2"]
    metrics = run_stage(make_cfg(overrides, tmp_path / "run"))
    assert Path(metrics["export_dir"]).is_dir()


class _StopAfterFirstEpoch(pl.Callback):
    """Simulates an interruption: the run ends after epoch 0 (its checkpoints are written)."""

    def on_train_epoch_end(self, trainer, pl_module):
        trainer.should_stop = True


@pytest.mark.parametrize("model", ["tiny", pytest.param("minilm", marks=pytest.mark.slow)])
def test_resume_from_last_matches_an_uninterrupted_run(make_cfg, toy_file, tmp_path, monkeypatch, model):
    resolve_model_path("embedded:tiny-qwen2")  # built (and its seeding done) before either run starts
    overrides = [*TINY_RUN, f"model/rm={model}", f"data.input={toy_file}", "trainer.max_epochs=2", "trainer.min_epochs=1",
                 "model.rm.disable_dropout=false"]  # dropout on: resume must restore the RNG states too
    straight = run_stage(make_cfg(overrides, tmp_path / "straight"))

    build = builders.build_callbacks
    monkeypatch.setattr(builders, "build_callbacks", lambda cfg, has_logger: [*build(cfg, has_logger), _StopAfterFirstEpoch()])
    run_stage(make_cfg(overrides, tmp_path / "resumed"))
    monkeypatch.setattr(builders, "build_callbacks", build)
    resumed = run_stage(make_cfg([*overrides, "ckpt_path=last"], tmp_path / "resumed"))

    assert resumed["val/loss"] == pytest.approx(straight["val/loss"], abs=1e-6)
    assert resumed["val/weval/kendall_tau"] == pytest.approx(straight["val/weval/kendall_tau"])
    a = load_file(Path(straight["export_dir"]) / "model.safetensors")
    b = load_file(Path(resumed["export_dir"]) / "model.safetensors")
    assert all(torch.allclose(a[name], b[name], atol=1e-6) for name in a)


class _Killed(Exception):
    """A simulated kill of the run."""


class _KillAfterMidEpochCheckpoint(pl.Callback):
    """Kills the run at the first training batch after the first validation of epoch 1 (its checkpoint is written)."""

    def __init__(self):
        self.validated = False

    def on_validation_end(self, trainer, pl_module):
        self.validated = trainer.current_epoch == 1 and not trainer.sanity_checking

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.validated:
            raise _Killed(trainer.global_step, trainer.num_training_batches)


@pytest.mark.parametrize("backbone", [
    pytest.param([], id="tiny"),
    pytest.param(["model.rm.model_name=embedded:minilm", "model.rm.disable_dropout=false", "data.max_length=64"],
                 id="minilm-with-dropout", marks=pytest.mark.slow),  # ~1 min: dropout makes the RNG restore matter
])
def test_resume_mid_epoch_matches_an_uninterrupted_run(make_cfg, toy_file, tmp_path, monkeypatch, backbone):
    """Killed after the checkpoint of a validation in the middle of epoch 1, resumed from it: the same weights
    (with dropout on, the RNG states restored at the resumed start make it exact too)."""
    resolve_model_path("embedded:tiny-qwen2")  # built (and its seeding done) before either run starts
    overrides = [*TINY_RUN, *backbone, f"data.input={toy_file}", "trainer.max_epochs=2", "trainer.min_epochs=1",
                 "trainer.val_check_interval=0.5", "callbacks.model_checkpoint.save_top_k=-1"]  # a checkpoint per validation
    straight = run_stage(make_cfg(overrides, tmp_path / "straight"))

    build = builders.build_callbacks
    monkeypatch.setattr(builders, "build_callbacks",
                        lambda cfg, has_logger: [*build(cfg, has_logger), _KillAfterMidEpochCheckpoint()])
    with pytest.raises(_Killed) as killed:
        run_stage(make_cfg(overrides, tmp_path / "resumed"))
    step, per_epoch = killed.value.args
    assert per_epoch < step < 2 * per_epoch  # killed in the middle of epoch 1
    monkeypatch.setattr(builders, "build_callbacks", build)
    checkpoint = tmp_path / "resumed" / "checkpoints" / f"epoch=001-step={step}.ckpt"
    resumed = run_stage(make_cfg([*overrides, f"ckpt_path='{checkpoint}'"], tmp_path / "resumed"))

    a = load_file(Path(straight["export_dir"]) / "model.safetensors")
    b = load_file(Path(resumed["export_dir"]) / "model.safetensors")
    diff = max(float((a[name] - b[name]).abs().max()) for name in a)
    assert diff < 1e-6, f"max abs weight difference {diff}"
    assert resumed["val/loss"] == pytest.approx(straight["val/loss"], abs=1e-6)


@pytest.mark.slow
def test_rm_tiny_experiment_runs_on_its_embedded_default(make_cfg, tmp_path):
    metrics = run_stage(make_cfg(["+experiment=rm_tiny", "logger=csv", "callbacks.progress_bar=null",
                                  "data.max_length=128"], tmp_path / "run"))
    assert metrics["data/weval_groups"] == 8 and Path(metrics["export_dir"], "model.safetensors").exists()  # 15% of 56
    assert -1 <= metrics["val/weval/kendall_tau"] <= 1


@pytest.mark.slow
def test_rm_tiny_experiment_on_a_levels_file(make_cfg, levels_file, tmp_path):
    cfg = make_cfg(["+experiment=rm_tiny", f"data.input={levels_file}", "data.format=levels", "logger=csv",
                    "callbacks.progress_bar=null", "data.max_groups=8", "data.val_fraction=0.5", "data.max_length=128"],
                   tmp_path / "run")
    metrics = run_stage(cfg)
    assert metrics["data/train_groups"] == 4 and metrics["data/weval_groups"] == 4
    assert -1 <= metrics["val/weval/kendall_tau"] <= 1 and metrics["val/n"] == 100


def _cli(args: list[str], timeout: int = 900) -> subprocess.CompletedProcess:
    env = {**child_env(), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "wrl_lightning", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_ddp_on_two_cpu_processes(toy_file, tmp_path):
    out = tmp_path / "ddp"
    done = _cli([*TINY_RUN, "strategy=ddp", "trainer.devices=2", f"data.input={toy_file}", f"paths.output_dir={out}",
                 "extras.print_config=false"])
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert "val/weval/kendall_tau" in metrics and (out / "export" / "model.safetensors").exists()
    assert metrics["val/n"] == 24  # every validation pair counted once across the two ranks


def test_ddp_validation_counts_each_row_once(make_cfg, toy_file, tmp_path, saved_classifier):
    """3 validation batches on 2 ranks: the batch repeated to even out the ranks counts nowhere."""
    model = saved_classifier("embedded:tiny-qwen2")  # the same weights in both runs (lr 0 keeps them)
    overrides = [*TINY_RUN, f"data.input={toy_file}", f"model.rm.model_name={model}", "model.rm.optimizer.lr=0",
                 "data.eval_batch_size=8", "trainer.limit_train_batches=1", "extras.print_config=false"]
    single = run_stage(make_cfg(overrides, tmp_path / "single"))
    done = _cli([*overrides, "strategy=ddp", "trainer.devices=2", f"paths.output_dir={tmp_path / 'ddp'}"])
    assert done.returncode == 0, done.stderr[-3000:]
    ddp = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert single["val/n"] == ddp["val/n"] == 24
    for key in ("val/loss", "val/acc", "val/auroc", "val/weval/kendall_tau"):
        assert ddp[key] == pytest.approx(single[key], abs=1e-6), key


@pytest.mark.slow
def test_cli_trains_straight_from_a_levels_file(levels_file, tmp_path):
    out = tmp_path / "cli"
    done = _cli(["+experiment=rm_tiny", f"data.input={levels_file}", "data.format=levels", f"paths.output_dir={out}",
                 "data.max_groups=4", "data.val_fraction=0.5", "data.max_length=96", "logger=csv", "extras.print_config=false"])
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data/weval_groups"] == 2 and Path(metrics["export_dir"]).is_dir()


"""The CLI keeps README's promises: config mistakes exit 2 with one line naming the key, before any folder
is made; `+key=value` that nothing reads is refused; `paths.output_dir` holds the whole run and a finished
run there is not overwritten by accident."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from tests.conftest import CONF_DIR, REPO
from wrl_lightning.errors import ConfigError
from wrl_lightning.utils.config import check_additions
from wrl_lightning.utils.run import claim_output_dir

QUICK = ["logger=none", "extras.print_config=false", "weval.limit=3", "weval.bootstrap=0"]


def _cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    from tests.conftest import child_env

    env = {**child_env(), "WRL_ROOT": str(tmp_path / "root")}  # default run folders would go under root/logs
    return subprocess.run([sys.executable, "-m", "wrl_lightning", *QUICK, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def _assert_one_line_error(result: subprocess.CompletedProcess, *parts: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr
    for part in parts:
        assert part in lines[0], lines[0]


@pytest.mark.parametrize(
    ("override", "parts"),
    [
        ("weval.tiez=x", ["error: config error: weval.tiez: unknown key", "weval.ties"]),
        ("scorer=bogus", ["config error: scorer: no option 'bogus'", "length", "rm"]),
        ("stage=train", ["config error: stage: no option 'train'", "weval", "pipeline"]),
        ("+weval.tiez=x", ["config error: weval.tiez: unknown key (did you mean weval.ties?)", "_target_"]),
        ("+weval.ties=x", ["config error: weval.ties: already declared"]),
    ],
)
def test_config_mistakes_exit_2_with_one_line_and_no_folder(tmp_path, override, parts):
    result = _cli([f"paths.output_dir={tmp_path / 'run'}", override], tmp_path)
    _assert_one_line_error(result, *parts)
    assert not (tmp_path / "run").exists() and not (tmp_path / "root").exists()


@pytest.mark.parametrize(
    ("model", "parts"),
    [
        ("/no/such/dir", ["config error: scorer.model: model folder not found: /no/such/dir"]),
        ("someorg/some-model", ["config error: scorer.model: 'someorg/some-model'", "offline mode (HF_HUB_OFFLINE=1)",
                                "pass a local folder"]),
    ],
)
def test_missing_model_exits_2_with_one_line(tmp_path, model, parts):
    result = _cli(["scorer=rm", f"scorer.model={model}", f"paths.output_dir={tmp_path / 'run'}"], tmp_path)
    _assert_one_line_error(result, *parts)
    assert not (tmp_path / "run").exists() and not (tmp_path / "root").exists()


def test_output_dir_holds_the_whole_run_and_guards_a_finished_one(tmp_path):
    out = tmp_path / "run"
    first = _cli([f"paths.output_dir={out}"], tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert {"metrics.json", "config.yaml", ".hydra", "weval.log"} <= {p.name for p in out.iterdir()}
    assert not (tmp_path / "root").exists()  # no second folder under logs/
    metrics = (out / "metrics.json").read_text()

    again = _cli([f"paths.output_dir={out}"], tmp_path)
    _assert_one_line_error(again, "config error: paths.output_dir:", "overwrite=true")
    assert (out / "metrics.json").read_text() == metrics

    (out / "stale.txt").write_text("from an earlier run")
    over = _cli([f"paths.output_dir={out}", "overwrite=true", "weval.limit=2"], tmp_path)
    assert over.returncode == 0, over.stderr[-3000:]
    assert not (out / "stale.txt").exists()
    assert json.loads((out / "metrics.json").read_text())["n_groups"] == 2


def test_default_run_folder_holds_outputs_and_hydra_files(tmp_path):
    result = _cli([], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = (tmp_path / "root" / "logs" / "weval" / "runs").iterdir()
    assert {"metrics.json", ".hydra", "weval.log"} <= {p.name for p in run.iterdir()}


def test_claim_output_dir_rules(tmp_path):
    from omegaconf import OmegaConf

    (tmp_path / "metrics.json").write_text("{}")
    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(ConfigError, match="paths.output_dir: .* already holds a finished run"):
        claim_output_dir(OmegaConf.create({"overwrite": False, "ckpt_path": None}), tmp_path)
    claim_output_dir(OmegaConf.create({"overwrite": False, "ckpt_path": "last"}), tmp_path)  # resumes: allowed
    with pytest.raises(ConfigError, match="overwrite: .*ckpt_path"):
        claim_output_dir(OmegaConf.create({"overwrite": True, "ckpt_path": "last"}), tmp_path)
    assert (tmp_path / "metrics.json").exists()
    claim_output_dir(OmegaConf.create({"overwrite": True, "ckpt_path": None}), tmp_path)
    assert not any(tmp_path.iterdir())
    claim_output_dir(OmegaConf.create({"overwrite": False, "ckpt_path": None}), tmp_path / "new")  # absent: fine


def _composed(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
    return cfg, list(cfg.hydra.overrides.task), cfg.hydra.runtime.choices


@pytest.mark.parametrize(
    "overrides",
    [
        ["+experiment=rm_tiny", "+debug=limit"],
        ["scorer=rm", "+scorer.trainer.strategy=ddp"],
        ["stage=rl", "+reward@rl.rewards.judge=judge_binary", "+rl.rewards.rank._target_=x.Rank",
         "+rl.rewards.rank.weight=2"],
        ["+experiment=rm_tiny", "+callbacks.timer._target_=x.StepTimer"],
        ["++weval.anything=1"],
    ],
)
def test_plus_overrides_the_repo_uses_are_allowed(overrides):
    check_additions(*_composed(overrides))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["+weval.tiez=x"], r"weval\.tiez: unknown key \(did you mean weval\.ties\?\)"),
        (["+seeed=1"], r"seeed: unknown key \(did you mean seed\?\)"),
        (["+extras.print_configs=false"], r"extras\.print_configs: unknown key"),
    ],
)
def test_plus_override_nothing_reads_is_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        check_additions(*_composed(overrides))

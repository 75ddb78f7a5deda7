"""Experiment loggers: run names from stage and scorer, tags and group in the offline W&B run files, and the
stages without a Trainer (weval, pairs, ifeval) reporting their metrics to the logger."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.conftest import shared_file
from wrl_lightning.utils.loggers import build_loggers, finish_loggers, run_name
from wrl_lightning.utils.run import run_stage


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        (["stage=weval", "scorer=rm"], "weval-rm"),
        (["stage=weval", "scorer=length"], "weval-length"),
        (["stage=weval", "scorer=scalar_rm"], "weval-scalar_rm"),
        (["stage=weval", "scorer=judge_binary", "scorer.parser=logprob"], "weval-judge_logprob"),
        (["stage=rm"], "rm"),
        (["+experiment=rm_tiny"], "rm"),
        (["stage=rl"], "rl"),
        (["stage=pairs"], "pairs"),
    ],
)
def test_run_name_says_stage_and_scorer(make_cfg, overrides, name):
    assert run_name(make_cfg(overrides)) == name


def wandb_run_record(run_dir: Path):
    """The ``run`` record (name, group, tags) of the one offline W&B run under ``run_dir``: the ``.wandb`` file is
    a LevelDB-style log (32 KiB blocks of ``crc32 | length | type`` chunks) of protobuf records after a 7-byte
    ``:W&B`` header."""
    from wandb.proto.wandb_internal_pb2 import Record

    (path,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    data, pos, pending = path.read_bytes(), 7, b""
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # a block's tail too short for a chunk header is padding
            pos += 32768 - pos % 32768
            continue
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk  # full / first start a record; middle / last extend it
        if kind in (1, 4):
            record = Record()
            record.ParseFromString(pending)
            if record.WhichOneof("record_type") == "run":
                return record.run
    raise AssertionError(f"no run record in {path}")


def test_weval_run_files_carry_name_group_and_tags(make_cfg, tmp_path):
    out = tmp_path / "run"
    run_stage(make_cfg(["stage=weval", "scorer=length", "weval.limit=3", "weval.bootstrap=0", "weval.plots=false",
                        "tags=[exp1,7b]", "logger.group=pipe-7"], out))
    run = wandb_run_record(out)
    assert (run.display_name, run.run_group, list(run.tags)) == ("weval-length", "pipe-7", ["exp1", "7b"])


def test_experiment_tags_are_kept_and_group_defaults_to_none(make_cfg, tmp_path):
    cfg = make_cfg(["+experiment=rm_tiny"], tmp_path / "rm")
    (logger,) = build_loggers(cfg)
    try:
        run = logger.experiment
        assert (run.name, run.group, tuple(run.tags)) == ("rm", "", ("rm", "tiny", "cpu"))
    finally:
        finish_loggers([logger])
    assert wandb_run_record(tmp_path / "rm").run_group == ""


def test_explicit_name_wins(make_cfg, tmp_path):
    cfg = make_cfg(["stage=weval", "logger.wandb.name=my-run"], tmp_path / "run")
    (logger,) = build_loggers(cfg)
    try:
        assert logger.experiment.name == "my-run"
    finally:
        finish_loggers([logger])


def logged_csv_metrics(run_dir: Path) -> dict[str, str]:
    """The last row of the CSV logger's metrics file."""
    (path,) = run_dir.glob("csv/version_*/metrics.csv")
    with path.open() as handle:
        return list(csv.DictReader(handle))[-1]


def test_pairs_stage_logs_its_metrics(make_cfg, tmp_path):
    out = tmp_path / "pairs"
    metrics = run_stage(make_cfg(["stage=pairs", "pairs.limit=3", "logger=csv"], out))
    logged = logged_csv_metrics(out)
    assert int(float(logged["pairs_train"])) == metrics["pairs_train"] > 0
    assert float(logged["label_noise/rate"]) == pytest.approx(metrics["label_noise/rate"])


def test_ifeval_stage_logs_its_metrics(make_cfg, tmp_path):
    rows = [json.loads(line) for line in shared_file("ifeval_input.jsonl").read_text().splitlines()[:4]]
    inputs, responses = tmp_path / "input.jsonl", tmp_path / "responses.jsonl"
    inputs.write_text("".join(json.dumps(row) + "\n" for row in rows))
    responses.write_text("".join(json.dumps({"prompt": row["prompt"], "response": "A short answer."}) + "\n" for row in rows))
    out = tmp_path / "ifeval"
    metrics = run_stage(make_cfg(["stage=ifeval", f"ifeval.input={inputs}", f"ifeval.responses={responses}", "logger=csv"], out))
    logged = logged_csv_metrics(out)
    for key in ("prompt_level_strict", "instruction_level_loose"):
        assert float(logged[key]) == pytest.approx(metrics[key])

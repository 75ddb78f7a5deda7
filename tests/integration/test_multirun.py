"""A real Hydra multirun ends with one summary table across its jobs (summary.md, summary.csv, the console);
a failed job is listed as failed and the others keep their rows."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, child_env

QUICK = ["stage=weval", "weval.limit=5", "weval.bootstrap=50", "weval.plots=false", "logger=none", "extras.print_config=false"]


def multirun(sweep: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wrl_lightning", "-m", *QUICK, *args, f"hydra.sweep.dir={sweep}"],
                          cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=600)


def test_multirun_ends_with_one_summary_table(tmp_path):
    sweep = tmp_path / "sweep"
    result = multirun(sweep, "scorer=length,random")
    assert result.returncode == 0, result.stderr[-2000:]
    taus = [json.loads((sweep / str(job) / "metrics.json").read_text())["kendall_tau"] for job in (0, 1)]

    with (sweep / "summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["job"], r["status"], r["scorer"], r["stage"], r["weval.limit"]) for r in rows] == [
        ("0", "ok", "length", "weval", "5"), ("1", "ok", "random", "weval", "5")]
    assert [float(r["kendall_tau"]) for r in rows] == taus
    assert all(r["kendall_tau_ci_low"] and r["n_groups"] == "5" for r in rows)

    table = (sweep / "summary.md").read_text()
    assert "Same in every job: `stage=weval` `weval.limit=5`" in table
    header = next(line for line in table.splitlines() if line.startswith("| job"))
    assert header.split(" | ")[:4] == ["| job", "status", "scorer", "kendall_tau"]  # only the varying override
    assert f"| 0 | ok | length | {taus[0]:.3f} [" in table and f"| 1 | ok | random | {taus[1]:.3f} [" in table

    console = result.stdout
    assert "Multirun summary — 2 jobs" in console
    lines = [line for line in console.splitlines() if " length " in line or " random " in line]
    assert len(lines) == 2 and f"{taus[0]:.3f}" in lines[0] and f"{taus[1]:.3f}" in lines[1]  # one line per job


def test_a_failed_job_is_listed_and_the_others_kept(tmp_path):
    sweep = tmp_path / "sweep"
    result = multirun(sweep, "scorer=rm,length")  # scorer=rm without scorer.model fails
    assert result.returncode == 2 and "scorer.model" in result.stderr
    with (sweep / "summary.csv").open() as handle:
        rows = {r["scorer"]: r for r in csv.DictReader(handle)}
    assert rows["rm"]["status"] == "failed" and rows["rm"]["kendall_tau"] == ""
    assert rows["length"]["status"] == "ok" and float(rows["length"]["kendall_tau"]) == json.loads(
        (sweep / "1" / "metrics.json").read_text())["kendall_tau"]

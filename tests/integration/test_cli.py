"""The installed ``wrl`` console script: the same app as ``python -m wrl_lightning``, from any folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import child_env


def test_installed_wrl_script_runs_from_another_folder(tmp_path):
    script = Path(sys.executable).with_name("wrl")
    assert script.is_file(), f"{script} is not installed (pip install -e . installs it)"
    result = subprocess.run([str(script), "stage=weval", "scorer=length", "logger=none", "weval.limit=3",
                             "weval.bootstrap=0", "extras.print_config=false", f"paths.output_dir={tmp_path / 'run'}"],
                            cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "run" / "metrics.json").is_file()

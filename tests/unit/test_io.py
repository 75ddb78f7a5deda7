"""Atomic writers: a failure mid-write leaves the previous file intact and no temporary file behind."""

from __future__ import annotations

import pytest

from wrl_lightning.utils.files import write_json, write_jsonl


def test_failed_write_keeps_previous_file(tmp_path):
    target = tmp_path / "scores.jsonl"
    write_jsonl(target, [{"a": 1}])

    def rows():
        yield {"a": 2}
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        write_jsonl(target, rows())
    assert target.read_text() == '{"a": 1}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.jsonl"]


def test_write_json_creates_parents(tmp_path):
    path = write_json(tmp_path / "a" / "b" / "metrics.json", {"x": 1.5})
    assert path.read_text().strip().startswith("{")

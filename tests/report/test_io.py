"""Report files: checked before the run, written atomically."""

from __future__ import annotations

import os

import pytest

from pcilock.report import ReportPathError, check_writable, render_html, write_atomic


def test_check_writable_accepts_a_new_file(tmp_path):
    check_writable(tmp_path / "report.html")
    check_writable(str(tmp_path / "report.html"))


def test_missing_directory_is_named(tmp_path):
    path = tmp_path / "no-such-dir" / "report.html"
    with pytest.raises(ReportPathError) as e:
        check_writable(path)
    assert str(path) in str(e.value)
    assert "does not exist" in str(e.value)
    assert e.value.path == str(path)


def test_directory_as_path(tmp_path):
    with pytest.raises(ReportPathError, match="is a directory"):
        check_writable(tmp_path)


def test_parent_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ReportPathError, match="is not a directory"):
        check_writable(f / "report.json")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_directory(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o555)
    try:
        with pytest.raises(ReportPathError, match="not writable"):
            check_writable(d / "report.json")
    finally:
        d.chmod(0o755)


def test_write_atomic_writes_and_replaces(tmp_path):
    path = tmp_path / "r.txt"
    write_atomic(path, "one\n")
    assert path.read_text() == "one\n"
    write_atomic(path, "two\n")
    assert path.read_text() == "two\n"
    assert os.listdir(tmp_path) == ["r.txt"]
    mask = os.umask(0)
    os.umask(mask)
    assert (path.stat().st_mode & 0o777) == 0o666 & ~mask


def test_failing_render_leaves_nothing_behind(tmp_path):
    path = tmp_path / "r.html"

    def chunks():
        yield "<html>" * 1000
        raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError, match="renderer failed"):
        write_atomic(path, chunks())
    assert os.listdir(tmp_path) == []


def test_failing_render_keeps_the_old_file(tmp_path):
    path = tmp_path / "r.html"
    write_atomic(path, "old")

    def chunks():
        yield "new partial"
        raise KeyError("boom")

    with pytest.raises(KeyError):
        write_atomic(path, chunks())
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["r.html"]


def test_renderer_raising_before_write(tmp_path, reports):
    path = tmp_path / "r.html"
    bad = dict(reports["deadlock"])
    del bad["violations"]
    with pytest.raises(KeyError):
        write_atomic(path, render_html(bad))
    assert not path.exists()


def test_write_into_missing_directory_fails_cleanly(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "missing" / "r.txt", "x")
    assert os.listdir(tmp_path) == []

"""Report files: checked before the run, written atomically."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from pcilock.report import ReportPathError, check_writable, render_html, write_atomic
from pcilock.report.io import write_reports


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
    with pytest.raises(ReportPathError, match="does not exist"):
        write_atomic(tmp_path / "missing" / "r.txt", "x")
    assert os.listdir(tmp_path) == []


# -- symbolic links, devices, FIFOs: followed or written through, never replaced -------------

def test_symlink_is_followed_and_kept(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "link.txt"
    link.symlink_to("real.txt")
    check_writable(link)
    write_atomic(link, "new\n")
    assert link.is_symlink() and os.readlink(link) == "real.txt"
    assert real.read_text() == "new\n"
    assert (real.stat().st_mode & 0o777) == 0o640  # the target keeps its mode
    assert sorted(os.listdir(tmp_path)) == ["link.txt", "real.txt"]


def test_dangling_symlink_creates_its_target(tmp_path):
    (tmp_path / "sub").mkdir()
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "sub" / "r.txt")
    check_writable(link)
    write_atomic(link, "x")
    assert link.is_symlink() and (tmp_path / "sub" / "r.txt").read_text() == "x"


def test_symlink_to_missing_directory_names_both(tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "nowhere" / "r.txt")
    with pytest.raises(ReportPathError) as e:
        check_writable(link)
    assert f"{link} (-> {tmp_path / 'nowhere' / 'r.txt'})" in str(e.value)
    assert e.value.path == str(link)


def test_symlink_to_directory_is_an_error(tmp_path):
    (tmp_path / "d").mkdir()
    link = tmp_path / "link"
    link.symlink_to("d")
    for f in (check_writable, lambda p: write_atomic(p, "x")):
        with pytest.raises(ReportPathError, match="is a directory"):
            f(link)
    assert os.listdir(tmp_path / "d") == []


def test_fifo_is_written_through(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    check_writable(fifo)  # neither blocks nor fails with no reader: a FIFO is not opened
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    text = "report\n" * 20000  # more than a pipe buffer
    write_atomic(fifo, text)
    reader.join(timeout=30)
    assert not reader.is_alive()
    assert got == [text.encode()]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["fifo"]


def test_char_device_is_written_through_not_replaced():
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    check_writable("/dev/null")
    write_atomic("/dev/null", "report\n")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_full_device_fails_and_nothing_else_is_written(tmp_path):
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    other = tmp_path / "r.html"
    other.write_text("old")
    check_writable("/dev/full")
    with pytest.raises(ReportPathError, match="No space left on device") as e:
        write_reports([(other, "new"), ("/dev/full", "report\n")])
    assert e.value.path == "/dev/full"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    assert other.read_text() == "old"
    assert os.listdir(tmp_path) == ["r.html"]


@pytest.mark.skipif(not os.path.exists("/proc/version"), reason="no procfs")
def test_proc_file_is_rejected_even_for_root():
    with pytest.raises(ReportPathError) as e:
        check_writable("/proc/version")
    assert e.value.path == "/proc/version"


def test_reports_are_all_or_nothing(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.html"
    a.write_text("old a")

    def failing():
        yield "half"
        raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError):
        write_reports([(a, "new a"), (b, failing())])
    assert a.read_text() == "old a" and not b.exists()
    assert os.listdir(tmp_path) == ["a.txt"]
    write_reports([(a, "new a"), (b, "new b")])
    assert (a.read_text(), b.read_text()) == ("new a", "new b")
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.html"]

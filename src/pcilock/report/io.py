"""Writing report files: checked before the run, replaced atomically after it.

The CLI calls :func:`check_writable` for every output path *before* exploring,
so a typo in ``--html`` fails in a second, not after an hour of checking.
:func:`write_atomic` writes to a temporary file in the same directory, fsyncs
it and renames it over the target: a reader sees the old file or the new one,
never half of one, and a renderer that raises leaves nothing behind.
"""

from __future__ import annotations

import os
import tempfile


class ReportPathError(Exception):
    """An output path that cannot be written; the message names the path."""

    def __init__(self, path, reason):
        super().__init__(f"cannot write report to {path}: {reason}")
        self.path = path
        self.reason = reason


def check_writable(path):
    """Raise :class:`ReportPathError` unless a report can be written at *path*.

    :param path: the output file (it need not exist yet).
    """
    path = os.fspath(path)
    if not path:
        raise ReportPathError(path, "empty path")
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ReportPathError(path, "it is a directory")
    if not os.path.exists(directory):
        raise ReportPathError(path, f"directory {directory} does not exist")
    if not os.path.isdir(directory):
        raise ReportPathError(path, f"{directory} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ReportPathError(path, f"directory {directory} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise ReportPathError(path, "the file exists and is not writable")


def write_atomic(path, text):
    """Write *text* to *path* atomically (temp file in the same directory, fsync, rename).

    :param text: a string, or an iterable of strings (e.g. a streaming template);
        if producing the text raises, the exception propagates and neither a
        partial *path* nor a temporary file remains; an existing *path* is kept.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            if isinstance(text, str):
                f.write(text)
            else:
                for chunk in text:
                    f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(directory):
    # make the rename itself durable; not every file system allows opening a directory
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

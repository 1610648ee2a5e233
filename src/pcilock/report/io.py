"""Writing report files: checked before the run, committed together after it.

The CLI calls :func:`check_writable` for every output path *before* exploring,
so a typo in ``--html`` fails in a second, not after an hour of checking.  The
check proves writability by doing it, not by asking :func:`os.access` (which
says yes to root for every path): for a regular or new file it creates and
removes a temporary file in the file's directory, for a device it opens the
device for writing and closes it.

:func:`write_reports` then writes all reports as one unit, as far as the file
system allows:

1. every regular (or new) target gets a temporary file in its directory,
   written completely and fsynced; a renderer that raises, or a full disk,
   removes them all and leaves every target as it was;
2. targets that are not regular files (a character device such as
   ``/dev/stdout``, a FIFO) are written through: opened for writing, never
   replaced; a failure there (``/dev/full``: ENOSPC) also removes the
   temporary files;
3. the temporary files are renamed over their targets.

A symbolic link is followed: its final target is written (atomically, if a
regular file) and the link stays.  A directory is an error.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile


class ReportPathError(Exception):
    """An output path that cannot be written; the message names the path."""

    def __init__(self, path, reason, real=None):
        shown = path if real is None else f"{path} (-> {real})"
        super().__init__(f"cannot write report to {shown}: {reason}")
        self.path = path  # as given
        self.reason = reason


def check_writable(path):
    """Raise :class:`ReportPathError` unless a report can be written at *path*.

    Nothing is left behind and nothing existing is changed: the probe file is
    removed, a device is opened without truncation and closed.

    :param path: the output file (it need not exist yet).
    """
    path = os.fspath(path)
    target = _Target(path)
    if target.special:
        _probe_special(target)
    else:
        _probe_directory(target)


def write_atomic(path, text):
    """Write one report: :func:`write_reports` with a single ``(path, text)``."""
    write_reports([(path, text)])


def write_reports(items):
    """Write every ``(path, text)`` of *items*, all of them or (as far as possible) none.

    :param items: pairs of an output path and a string, or an iterable of
        strings (e.g. a streaming template).  If producing a text raises, or
        writing fails, the exception propagates, no temporary file remains and
        no regular target has changed.  A failure while renaming (after every
        temporary file and device was written) can leave the targets renamed
        before it replaced.
    :raises ReportPathError: a target is a directory or cannot be resolved, or
        writing it failed (the OS reason is in the message; ``path`` is the
        path as given).
    """
    staged = []  # (tmp, target), renamed from index *done* on
    through = []  # (target, bytes)
    done = 0
    try:
        for path, text in items:
            target = _Target(os.fspath(path))
            with _naming(target):
                if target.special:
                    through.append((target, "".join(_chunks(text)).encode("utf-8")))
                else:
                    staged.append((_stage(target, text), target))
        for target, data in through:
            with _naming(target):
                _write_through(target.real, data)
        for tmp, target in staged:
            with _naming(target):
                os.replace(tmp, target.real)
            done += 1
    except BaseException:
        for tmp, _ in staged[done:]:
            _unlink(tmp)
        raise
    for directory in sorted({t.directory for _, t in staged}):
        _fsync_dir(directory)


class _Target:
    """An output path resolved through symbolic links, with what is there now."""

    def __init__(self, path):
        if not path:
            raise ReportPathError(path, "empty path")
        self.path = path
        self.real = os.path.realpath(path)
        self.directory = os.path.dirname(self.real)
        try:
            self.st = os.stat(self.real)
        except FileNotFoundError:
            self.st = None
            self._check_directory()
        except OSError as e:  # ENOTDIR, ELOOP, EACCES on a path component
            if isinstance(e, NotADirectoryError):
                self._check_directory()
            raise self.error(_reason(e)) from None
        if self.st is not None and stat.S_ISDIR(self.st.st_mode):
            raise self.error("it is a directory")
        self.special = self.st is not None and not stat.S_ISREG(self.st.st_mode)

    def _check_directory(self):
        d = self.directory
        if not os.path.lexists(d):
            raise self.error(f"directory {d} does not exist")
        if not os.path.isdir(d):
            raise self.error(f"{d} is not a directory")

    def error(self, reason):
        linked = self.real != os.path.abspath(self.path)
        return ReportPathError(self.path, reason, self.real if linked else None)


@contextlib.contextmanager
def _naming(target):
    # an OS error while writing becomes a ReportPathError naming the path
    try:
        yield
    except OSError as e:
        raise target.error(_reason(e)) from e


def _probe_directory(target):
    # the rename needs a new file in the directory; an existing file must also be
    # writable for the user (os.access is only a refusal here, never a proof)
    if target.st is not None and not os.access(target.real, os.W_OK, effective_ids=_EFFECTIVE):
        raise target.error("the file exists and is not writable")
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target.real) + ".", suffix=".probe",
                                   dir=target.directory)
    except OSError as e:
        raise target.error(f"cannot create a file in directory {target.directory}: {_reason(e)}") from None
    os.close(fd)
    _unlink(tmp)


def _probe_special(target):
    if stat.S_ISFIFO(target.st.st_mode):
        # opening and closing a FIFO would hand a reader that is already there an
        # end of file before the report; a FIFO has no content, so permission is all
        if not os.access(target.real, os.W_OK, effective_ids=_EFFECTIVE):
            raise target.error("the FIFO is not writable")
        return
    try:
        fd = os.open(target.real, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as e:
        raise target.error(_reason(e)) from None
    os.close(fd)


def _stage(target, text):
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target.real) + ".", suffix=".tmp",
                               dir=target.directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            for chunk in _chunks(text):
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        mode = stat.S_IMODE(target.st.st_mode) if target.st is not None else 0o666 & ~_umask()
        os.chmod(tmp, mode)
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _write_through(path, data):
    # blocking open: a FIFO waits for its reader, as a shell redirection does
    fd = os.open(path, os.O_WRONLY | os.O_NOCTTY)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    finally:
        os.close(fd)


def _chunks(text):
    if isinstance(text, str):
        yield text
    else:
        yield from text


def _reason(e):
    return e.strerror or str(e)


_EFFECTIVE = os.access in os.supports_effective_ids


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


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

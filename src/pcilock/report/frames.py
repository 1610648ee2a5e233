"""Turning engine values into report values: frames, paths, names.

Everything a report holds must be plain JSON and the same on every machine:
model file paths are made relative to the ``pcilock`` package
(``kernel/drivers/pci/remove.py``), objects are replaced by their names, and
nothing is ever rendered with ``repr()`` (which may show memory addresses).
"""

from __future__ import annotations

import enum
import os

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ROOTS = tuple(dict.fromkeys([_PKG_DIR, os.path.realpath(_PKG_DIR)]))

MODES = {"w": "write", "r": "read"}


def package_relative(filename):
    """*filename* relative to the pcilock package, or None when outside it."""
    f = str(filename)
    candidates = [f]
    if os.path.isabs(f):
        candidates.append(os.path.realpath(f))
    for c in candidates:
        for root in _ROOTS:
            if c.startswith(root + os.sep):
                return c[len(root) + 1:].replace(os.sep, "/")
    return None


def model_path(filename):
    """Return *filename* relative to the pcilock package, never absolute.

    Files outside the package (toy programs in tests) keep their base name only.
    """
    if not filename:
        return ""
    rel = package_relative(filename)
    if rel is not None:
        return rel
    f = str(filename)
    if os.path.isabs(f):
        return os.path.basename(f)
    return f.replace(os.sep, "/")


def strip_paths(text):
    """Make absolute package paths inside a message relative."""
    for root in _ROOTS:
        text = text.replace(root + os.sep, "")
    return text


def is_frame(x):
    return (isinstance(x, (tuple, list)) and len(x) == 3 and isinstance(x[0], str)
            and isinstance(x[1], str) and isinstance(x[2], int) and not isinstance(x[2], bool))


def is_stack(x):
    return isinstance(x, (tuple, list)) and len(x) > 0 and all(is_frame(f) for f in x)


class Frames:
    """Converts ``(function, file, line)`` tuples to report frames, citing each.

    :param cite: ``cite(function, model_file, line) -> str | None``, the kernel
        file the model function mirrors; called with the file as the engine saw it
        and the frame's line (a file may hold one variant of a function per version).
    """

    def __init__(self, cite=None):
        self.cite = cite
        self._cache = {}

    def frame(self, func, filename, line):
        key = (func, filename, line)
        mirrors = self._cache.get(key, 0)
        if mirrors == 0:
            mirrors = self.cite(func, filename, line) if self.cite is not None else None
            mirrors = str(mirrors) if mirrors is not None else None
            self._cache[key] = mirrors
        return {"function": str(func), "model_file": model_path(filename),
                "line": int(line) if line is not None else None, "mirrors": mirrors}

    def stack(self, frames):
        """Report frames of an engine stack (outermost first)."""
        return [self.frame(*f) for f in frames or () if is_frame(f)]


def held_list(held):
    """``[(lock, mode)]`` (objects or names) as ``[{"name", "mode"}]``."""
    out = []
    for lk, mode in held or ():
        out.append({"name": obj_name(lk), "mode": MODES.get(mode, str(mode))})
    return out


def obj_name(obj):
    """A stable human name for an engine object (never its repr)."""
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (bool, int, float)):
        return str(obj)
    describe = getattr(obj, "describe", None)
    name = getattr(obj, "name", None)
    if isinstance(name, str):
        return name
    if callable(describe):
        try:
            d = describe()
        except Exception:  # a model object's describe() failing must not kill the report
            d = None
        if isinstance(d, str):
            return d
    return type(obj).__name__


def sanitize(value, frames, names):
    """A JSON-safe, deterministic copy of an engine ``detail`` value.

    Stacks become report frames; thread ids under ``tid``/``tids`` keys gain the
    thread names (``thread``/``threads``); objects become their names.

    :param names: ``{tid: thread name}``.
    """
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        return strip_paths(value)
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, enum.Enum):
        return sanitize(value.value, frames, names)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            k = str(k)
            out[k] = sanitize(v, frames, names)
            if k == "tid" and isinstance(v, int) and "thread" not in value:
                out["thread"] = names.get(v, f"t{v}")
            if k == "tids" and isinstance(v, (list, tuple)) and "threads" not in value:
                out["threads"] = [names.get(x, f"t{x}") if isinstance(x, int) else obj_name(x) for x in v]
        return out
    if is_frame(value):
        return frames.frame(*value)
    if is_stack(value):
        return frames.stack(value)
    if isinstance(value, (list, tuple)):
        return [sanitize(v, frames, names) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((sanitize(v, frames, names) for v in value), key=repr)
    return obj_name(value)


def frame_text(fr):
    """``function model/file.py:line (kernel/file.c)``."""
    loc = f"{fr['model_file']}:{fr['line']}" if fr.get("line") is not None else fr["model_file"]
    text = f"{fr['function']} {loc}"
    if fr.get("mirrors"):
        text += f" ({fr['mirrors']})"
    return text

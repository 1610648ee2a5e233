"""Where each key, table header and array element of a TOML text is (for error lines).

``tomllib`` returns values without positions; the scenario parser reports a
semantic error at the line of the most specific element this scan found.
"""

from __future__ import annotations

import re
import tomllib

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR = re.compile(r"[^,\]}\n#]*")


class Lines:
    """Line (1-based) of each table header, key and array element in TOML text.

    Paths are tuples as in the parsed document: ``("device", 2, "sriov")`` is
    the ``sriov`` key of the third ``[[device]]``; ``("thread", 0, "run", 1)``
    the second element of the first thread's ``run``.  The text is known to be
    valid TOML (``tomllib`` accepted it), so the scan can be simple.
    """

    def __init__(self, text):
        self.s, self.i, self.ln = text, 0, 1
        self.at = {}
        self._aot = {}
        try:
            self._document()
        except (IndexError, ValueError, tomllib.TOMLDecodeError):  # pragma: no cover - keep what we have
            pass

    def line(self, *path):
        """The line of *path*, else of its nearest enclosing element that has one (0: none)."""
        p = tuple(path)
        while p:
            if p in self.at:
                return self.at[p]
            p = p[:-1]
        return 0

    def _note(self, path):
        self.at.setdefault(path, self.ln)

    def _peek(self, k=1):
        return self.s[self.i:self.i + k]

    def _ws(self, newlines=True):
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r" or (c == "\n" and newlines):
                self.ln += c == "\n"
                self.i += 1
            elif c == "#":
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    self.i += 1
            else:
                return

    def _string(self):
        start = self.i
        q = self.s[self.i]
        delim = q * 3 if self._peek(3) == q * 3 else q
        self.i += len(delim)
        while not self.s.startswith(delim, self.i):
            if q == '"' and self.s[self.i] == "\\":
                self.i += 1
            self.ln += self.s[self.i] == "\n"
            self.i += 1
        self.i += len(delim)
        while delim != q and self._peek() == q:  # """a"""" ends with a quote in the value
            self.i += 1
        return self.s[start:self.i]

    def _key(self):
        parts = []
        while True:
            self._ws(False)
            if self._peek() in "\"'":
                raw = self._string()
                parts.append(tomllib.loads(f"k = {raw}")["k"])
            else:
                m = _BARE_KEY.match(self.s, self.i)
                parts.append(m.group(0))
                self.i = m.end()
            self._ws(False)
            if self._peek() != ".":
                return tuple(parts)
            self.i += 1

    def _resolve(self, parts):
        res = ()
        for p in parts:
            res += (p,)
            if res in self._aot:
                res += (self._aot[res] - 1,)
        return res

    def _document(self):
        table = ()
        while True:
            self._ws()
            if self.i >= len(self.s):
                return
            if self._peek(2) == "[[":
                self.i += 2
                parts = self._key()
                base = self._resolve(parts[:-1]) + parts[-1:]
                self._note(base)
                self._aot[base] = self._aot.get(base, 0) + 1
                table = base + (self._aot[base] - 1,)
                self._note(table)
                self.i += 2
            elif self._peek() == "[":
                self.i += 1
                table = self._resolve(self._key())
                self._note(table)
                self.i += 1
            else:
                self._keyval(table)

    def _keyval(self, table):
        path = table + self._key()
        self._note(path)
        self.i += 1  # '='
        self._ws(False)
        self._value(path)

    def _value(self, path):
        c = self._peek()
        if c in "\"'":
            self._string()
        elif c == "[":
            self.i += 1
            n = 0
            while True:
                self._ws()
                if self._peek() == "]":
                    self.i += 1
                    return
                self._note(path + (n,))
                self._value(path + (n,))
                self._ws()
                if self._peek() == ",":
                    self.i += 1
                n += 1
        elif c == "{":
            self.i += 1
            while True:
                self._ws()
                if self._peek() == "}":
                    self.i += 1
                    return
                self._keyval(path)
                self._ws()
                if self._peek() == ",":
                    self.i += 1
        else:
            m = _SCALAR.match(self.s, self.i)
            self.i = m.end()

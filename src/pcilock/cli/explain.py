"""``pcilock explain FUNCTION --kernel REGIME``: the model's lock skeleton of one function.

The skeleton is read from the model's own source (its AST), so it shows
exactly what the checker runs: every lock operation, every call into another
model function, every driver callback, and the control flow around them,
with the model line numbers and the kernel file and line the function mirrors.
"""

from __future__ import annotations

import ast
import inspect
import textwrap

from pcilock.kernel._model import relpath

_OPS = {
    "lock": "mutex_lock", "unlock": "mutex_unlock", "trylock": "mutex_trylock",
    "down_read": "down_read", "down_write": "down_write", "up_read": "up_read", "up_write": "up_write",
    "down_read_trylock": "down_read_trylock", "down_write_trylock": "down_write_trylock",
    "gate_enter": "kernfs active ref get", "gate_leave": "kernfs active ref put",
    "gate_close": "drain (wait for active refs)", "gate_reenter": "active ref retaken",
    "complete": "complete", "complete_all": "complete_all", "wait_for_completion": "wait_for_completion",
    "spawn": "start task", "join": "wait for task", "assert_held": "lockdep_assert_held",
    "check": "WARN_ON", "read": "read", "write": "write", "rmw": "atomic update",
}
_LOCKISH = {"lock", "unlock", "trylock", "down_read", "down_write", "up_read", "up_write",
            "down_read_trylock", "down_write_trylock", "gate_close", "wait_for_completion", "join"}


def _has_yield(node):
    return any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in ast.walk(node))


def _clean(src):
    for a, b in (("(yield from K.", "("), ("yield from K.", ""), ("(yield from ", "("), ("yield from ", ""),
                 ("(yield ", "("), ("yield ", "")):
        src = src.replace(a, b)
    return src


def _helper(fn, f):
    """The model-only helper a ``yield from NAME(...)`` calls (a module function of the model with no
    ``@mirrors``: part of the caller's body, shown inline), or None."""
    if not isinstance(f, ast.Name):
        return None
    target = fn.__globals__.get(f.id)
    if inspect.isgeneratorfunction(target) and not hasattr(target, "__mirrors__"):
        return target
    return None


def _describe(stmt, fn):
    """The lines of a statement containing yields: ``(kind, text, helper)``."""
    calls = []
    for n in ast.walk(stmt):
        if isinstance(n, ast.YieldFrom) and isinstance(n.value, ast.Call):
            f = n.value.func
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "K":
                calls.append(("call", f.attr, ast.unparse(n.value)[2:]))
            elif (h := _helper(fn, f)) is not None:
                calls.append(("helper", h, ast.unparse(n.value)))
            else:
                calls.append(("callback", ast.unparse(f), ast.unparse(n.value)))
        elif isinstance(n, ast.Yield) and isinstance(n.value, ast.Call):
            f = n.value.func
            name = f.id if isinstance(f, ast.Name) else ast.unparse(f)
            args = ", ".join(ast.unparse(a).replace("W.", "") for a in n.value.args)
            calls.append(("op", name, f"{_OPS.get(name, name)}({args})"))
    parts = []
    for kind, name, text in calls:
        if kind == "op":
            tag = "LOCK " if name in _LOCKISH else "     "
            parts.append((f"{tag}{text}", None))
        elif kind == "call":
            parts.append((f"     -> {text}", None))
        elif kind == "helper":
            parts.append((f"     {text}  (model-only helper, inline:)", name))
        else:
            parts.append((f"  CB {text}", None))
    return parts


def skeleton(fn, depth=0, _seen=()):
    """``[(model line, text)]``: the lock skeleton of *fn*; model-only helpers it calls are expanded
    inline (their lines are those of the helper's own file)."""
    src = textwrap.dedent(inspect.getsource(fn))
    first = inspect.getsourcelines(fn)[1]
    tree = ast.parse(src)
    func = tree.body[0]
    lines = []

    def walk(stmts, depth):
        pad = "    " * depth
        start = len(lines)
        _walk(stmts, depth, pad)
        if len(lines) == start:
            lines.append((first + stmts[0].lineno - 1, f"{pad}(no lock, call or wait)"))

    def _walk(stmts, depth, pad):
        for s in stmts:
            ln = first + s.lineno - 1
            if isinstance(s, ast.If):
                kw = "if"
                while True:
                    lines.append((first + s.lineno - 1, f"{pad}{kw} {_clean(ast.unparse(s.test))}:"))
                    walk(s.body, depth + 1)
                    if len(s.orelse) == 1 and isinstance(s.orelse[0], ast.If):
                        s, kw = s.orelse[0], "elif"
                        continue
                    if s.orelse:
                        lines.append((first + s.orelse[0].lineno - 2, f"{pad}else:"))
                        walk(s.orelse, depth + 1)
                    break
            elif isinstance(s, (ast.For, ast.While)):
                head = (f"for {ast.unparse(s.target)} in {_clean(ast.unparse(s.iter))}:"
                        if isinstance(s, ast.For) else f"while {_clean(ast.unparse(s.test))}:")
                lines.append((ln, pad + head))
                walk(s.body, depth + 1)
            elif isinstance(s, ast.Return):
                lines.append((ln, f"{pad}return {_clean(ast.unparse(s.value)) if s.value else ''}".rstrip()))
            elif _has_yield(s):
                for p, helper in _describe(s, fn):
                    lines.append((ln, pad + p))
                    if helper is not None and helper not in _seen and len(_seen) < 4:
                        lines.extend((hl, pad + "    " + t) for hl, t in skeleton(helper, 0, _seen + (fn,)))
            elif isinstance(s, (ast.Assign, ast.AugAssign, ast.AnnAssign)) or \
                    (isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)):
                lines.append((ln, pad + _clean(ast.unparse(s))))
    walk(func.body, depth)
    return lines


def explain(name, table, version, out):
    fn = table.get(name)
    if fn is None:
        return False
    cit = fn.__mirrors__
    path = relpath(inspect.getsourcefile(fn))
    out(f"{name}  [{cit.describe(version)}]")
    if cit.note:
        out(f"  note: {cit.note}")
    out(f"  model: {path}:{inspect.getsourcelines(fn)[1]}")
    out("")
    for ln, text in skeleton(fn):
        out(f"  {ln:5d}  {text}")
    return True

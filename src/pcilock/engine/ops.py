"""Operations a model thread yields to the engine.

A model thread is a generator.  Every operation that touches shared state is
*yielded* as a small tuple ``(OPCODE, ...)``; the engine performs it, and the
value of the ``yield`` expression is the operation's result.  Plain Python
between two yields is one atomic, thread-local step: it must not touch shared
state except through these operations (shared fields enforce this, see
:class:`pcilock.engine.objects.Shared`).

Two families:

* *visible* operations are scheduling points: the engine may run another
  thread before performing them (locks, shared fields, waits, spawns, ...);
* *local* operations (opcodes >= ``LOCAL``) are handled inline without a
  scheduling point: assertions, queries about the current thread, trace notes.

Operations are tuples rather than objects because the engine handles hundreds
of thousands of them per second; the constructor functions below are the API.
"""

from __future__ import annotations

# visible operations -------------------------------------------------------
LOCK = 1
TRYLOCK = 2
UNLOCK = 3
DOWN_READ = 4
DOWN_WRITE = 5
DOWN_READ_TRYLOCK = 6
DOWN_WRITE_TRYLOCK = 7
UP_READ = 8
UP_WRITE = 9
DOWN_WRITE_WAIT = 10  # internal: a registered writer waiting for the grant
COMPLETE = 11
COMPLETE_ALL = 12
WAIT_COMPLETION = 13
TRY_WAIT_COMPLETION = 14
SPAWN = 15
JOIN = 16
READ = 17
WRITE = 18
RMW = 19
CHOOSE = 20
GATE_ENTER = 21
GATE_LEAVE = 22
GATE_CLOSE = 23
GATE_WAIT = 24  # internal: a closer waiting for the gate to drain
GATE_REENTER = 25
YIELD = 26  # a pure scheduling point (e.g. cond_resched, msleep)
FREE = 27  # kfree / final put of a Shared object
# local operations -----------------------------------------------------------
LOCAL = 64
CHECK = 64  # WARN_ON / BUG_ON style assertion
ASSERT_HELD = 65  # lockdep_assert_held / device_lock_assert
HOLDS = 66  # query: does the current thread hold this lock?
CURRENT = 67  # query: handle of the current thread
NOTE = 68  # annotation for traces
VIOLATION = 69  # report a violation found by model code (e.g. use after free)

OP_NAMES = {
    LOCK: "lock", TRYLOCK: "trylock", UNLOCK: "unlock",
    DOWN_READ: "down_read", DOWN_WRITE: "down_write",
    DOWN_READ_TRYLOCK: "down_read_trylock", DOWN_WRITE_TRYLOCK: "down_write_trylock",
    UP_READ: "up_read", UP_WRITE: "up_write", DOWN_WRITE_WAIT: "down_write",
    COMPLETE: "complete", COMPLETE_ALL: "complete_all",
    WAIT_COMPLETION: "wait_for_completion", TRY_WAIT_COMPLETION: "try_wait_for_completion",
    SPAWN: "spawn", JOIN: "join", READ: "read", WRITE: "write", RMW: "rmw",
    CHOOSE: "choose", GATE_ENTER: "gate_enter", GATE_LEAVE: "gate_leave",
    GATE_CLOSE: "gate_close", GATE_WAIT: "gate_close", GATE_REENTER: "gate_reenter",
    YIELD: "yield", FREE: "free",
    CHECK: "check", ASSERT_HELD: "assert_held", HOLDS: "holds", CURRENT: "current",
    NOTE: "note", VIOLATION: "violation",
}


# -- mutexes ---------------------------------------------------------------
def lock(m):
    """Acquire mutex *m*, sleeping while another thread holds it."""
    return (LOCK, m)


def trylock(m):
    """Try to acquire mutex *m*; the result is True on success."""
    return (TRYLOCK, m)


def unlock(m):
    """Release mutex *m* (a model error unless the current thread owns it)."""
    return (UNLOCK, m)


# -- rw semaphores -----------------------------------------------------------
def down_read(s, subclass=0):
    """Acquire *s* for reading; blocks while a writer holds or waits for it."""
    return (DOWN_READ, s, subclass)


def down_write(s, subclass=0):
    """Acquire *s* for writing; a contended writer first queues as a waiter."""
    return (DOWN_WRITE, s, subclass)


def down_read_trylock(s):
    return (DOWN_READ_TRYLOCK, s)


def down_write_trylock(s):
    return (DOWN_WRITE_TRYLOCK, s)


def up_read(s):
    return (UP_READ, s)


def up_write(s):
    return (UP_WRITE, s)


# -- completions, threads ----------------------------------------------------
def complete(c):
    return (COMPLETE, c)


def complete_all(c):
    return (COMPLETE_ALL, c)


def wait_for_completion(c):
    return (WAIT_COMPLETION, c)


def try_wait_for_completion(c):
    return (TRY_WAIT_COMPLETION, c)


def spawn(fn, *args, name=None):
    """Start a new model thread running generator function ``fn(*args)``.

    The result is the new thread's handle (for :func:`join`).
    """
    return (SPAWN, fn, args, name)


def join(thread):
    """Wait until *thread* has finished."""
    return (JOIN, thread)


# -- shared fields -------------------------------------------------------------
def read(obj, field, marked=False):
    """Read shared field *field* of *obj* (``marked``: READ_ONCE/atomic)."""
    return (READ, obj, field, marked)


def write(obj, field, value, marked=False):
    """Write shared field *field* of *obj* (``marked``: WRITE_ONCE/atomic)."""
    return (WRITE, obj, field, value, marked)


def rmw(obj, field, fn):
    """Atomically replace the field's value v by fn(v); the result is v."""
    return (RMW, obj, field, fn)


# -- gates (reference counts that can be closed and drained) --------------------
def gate_enter(g):
    """Take a reference on *g*; the result is False if *g* is closed."""
    return (GATE_ENTER, g)


def gate_leave(g):
    return (GATE_LEAVE, g)


def gate_close(g):
    """Close *g* against new references and wait until the count drains."""
    return (GATE_CLOSE, g)


def gate_reenter(g):
    """Take a reference back unconditionally (after breaking protection)."""
    return (GATE_REENTER, g)


# -- object lifetime ---------------------------------------------------------------
def free(obj):
    """Free the :class:`~pcilock.engine.objects.Shared` object *obj* (kfree, final put).

    Any later ``read``/``write``/``rmw`` of its fields, operation on a lock
    object it owns (``_owns_``), or second ``free`` is a ``uaf`` violation
    reporting both the use and the free.
    """
    from .objects import Shared

    if not isinstance(obj, Shared):
        from .errors import ModelError

        raise ModelError(f"free({obj!r}): only Shared model objects can be freed")
    return (FREE, obj)


def get_ref(obj, field="refcount"):
    """kref_get: increment the reference count in *field* (``yield from get_ref(obj)``).

    Taking a reference on an object whose count is already zero is a ``uaf``
    (refcount_t warns "addition on 0; use-after-free").  The result is the new count.
    """
    old = yield rmw(obj, field, _inc)
    if old <= 0:
        yield check(False, f"refcount_t: addition on 0 ({type(obj).__name__}.{field}); use-after-free",
                    kind="uaf")
    return old + 1


def put_ref(obj, field="refcount", release=None):
    """kref_put: drop a reference (``freed = yield from put_ref(obj)``).

    When the count drops to zero, ``release(obj)`` (a generator function, the
    kref release callback) runs if given, then the object is freed; the result
    is True in that case.  Dropping a reference at zero is a ``uaf``.
    """
    old = yield rmw(obj, field, _dec)
    if old <= 0:
        yield check(False, f"refcount_t: underflow ({type(obj).__name__}.{field}); use-after-free",
                    kind="uaf")
        return False
    if old == 1:
        if release is not None:
            yield from release(obj)
        yield free(obj)
        return True
    return False


def _inc(v):
    return v + 1


def _dec(v):
    return v - 1


# -- nondeterminism, scheduling --------------------------------------------------
def choose(n, label=None):
    """Nondeterministic choice: the result is an int in ``range(n)``."""
    return (CHOOSE, n, label)


def schedule_point(label=None):
    """A scheduling point with no shared effect."""
    return (YIELD, label)


# -- local operations ---------------------------------------------------------
def check(ok, message, kind="warn", fatal=False):
    """Assert *ok*; a failure is a violation of *kind* (``warn`` by default).

    ``fatal`` stops the thread (BUG_ON); otherwise it continues (WARN_ON).
    """
    return (CHECK, ok, message, kind, fatal)


def assert_held(lock_obj, message=None):
    """lockdep_assert_held: the current thread must hold *lock_obj*."""
    return (ASSERT_HELD, lock_obj, message)


def holds(lock_obj):
    return (HOLDS, lock_obj)


def current():
    return (CURRENT,)


def note(text):
    """Add a free-text annotation to the trace (no scheduling point)."""
    return (NOTE, text)


def violation(kind, message):
    """Report a violation of *kind* found by model code."""
    return (VIOLATION, kind, message)

"""Objects shared between model threads.

Each object holds its *model state* (who owns a mutex, which threads read-hold
an rw semaphore, ...) and the per-execution bookkeeping the explorers need
(``_h``: the history of events that touched it, used for dependency and race
computation).  Objects are created afresh by the program's setup for every
execution, so none of this state survives from one execution to the next.

Objects never schedule anything themselves (the loom split): they only say what
happened to them; :mod:`pcilock.engine.execution` decides what runs next.

Lock objects carry a human ``name`` (``pci_rescan_remove_lock``,
``&dev->mutex 0000:01:00.0``) and a ``lock_class`` used for lockdep-style
reporting; ``validate=False`` marks a class lockdep does not validate (the
``novalidate`` class of ``device_lock``).
"""

from __future__ import annotations

from .errors import ModelError


class Hist(list):
    """History of the events on one object or field: ``[(event index, mode)]``.

    ``key`` names the object stably across executions (objects are recreated
    for each execution); optimal DPOR compares events of different executions
    by key.  Objects of the same kind and name share a key, which can only make
    events look dependent, never independent.
    """

    __slots__ = ("key", "racc")

    def __init__(self, key):  # empty, as list.__new__ made it
        self.key = key
        self.racc = None  # race detector: recent accesses of this field (races.py)


class SyncObject:
    __slots__ = ("name", "lock_class", "validate", "_h", "_clock", "_freed")
    kind = "object"

    def __init__(self, name, lock_class=None, validate=True):
        self.name = name
        self.lock_class = lock_class if lock_class is not None else name
        self.validate = validate
        self._h = Hist((self.kind, name))  # DPOR history
        self._clock = None  # happens-before clock carried by release/acquire (races.py)
        self._freed = None  # the Shared object it belongs to, once that was freed

    def __repr__(self):
        return f"<{self.kind} {self.name}>"


class Mutex(SyncObject):
    """A sleeping, non-recursive mutex (``struct mutex``)."""

    __slots__ = ("owner",)
    kind = "mutex"

    def __init__(self, name, lock_class=None, validate=True):
        super().__init__(name, lock_class, validate)
        self.owner = None  # thread index of the owner, or None


class RWSem(SyncObject):
    """A reader/writer semaphore (``struct rw_semaphore``).

    Writer preference: a reader blocks while a writer holds the semaphore *or
    waits for it*, as the kernel's rwsem does once a writer has queued.  A
    contended writer first queues (a visible event), then waits for the grant.
    Queued writers are not served in FIFO order: whichever is scheduled first
    when the semaphore becomes free takes it (a superset of the kernel's
    behaviours, which is what a deadlock search wants).
    """

    __slots__ = ("readers", "writer", "wwait", "_rclock")
    kind = "rwsem"

    def __init__(self, name, lock_class=None, validate=True):
        super().__init__(name, lock_class, validate)
        self.readers = []  # thread indices, one entry per read hold
        self.writer = None
        self.wwait = []  # thread indices of queued writers
        self._rclock = None  # happens-before clock of the readers' releases (races.py)


class Completion(SyncObject):
    """A counting completion (``struct completion``).

    ``providers`` names the threads expected to complete it; a thread waiting on
    it then waits *for them* in the wait-for graph.  Without providers a wait
    that never ends is reported as a hang, not a deadlock.
    """

    __slots__ = ("done", "providers")
    kind = "completion"
    ALL = 1 << 30

    def __init__(self, name, providers=None):
        super().__init__(name, None, False)
        self.done = 0
        self.providers = list(providers) if providers else []


class Gate(SyncObject):
    """A reference count that can be closed and drained.

    Models kernfs active references: ``gate_enter`` fails once the gate is
    closed; ``gate_close`` closes it and waits until every holder has left.
    Lockdep tracks kernfs active references like a read lock, hence the lock
    class.
    """

    __slots__ = ("count", "closed", "holders")
    kind = "gate"

    def __init__(self, name, lock_class=None, validate=True):
        super().__init__(name, lock_class, validate)
        self.count = 0
        self.closed = False
        self.holders = []  # thread indices, one entry per reference


class SharedField:
    """Descriptor that forbids touching a shared field outside an operation."""

    __slots__ = ("name", "owner")

    def __init__(self, name, owner):
        self.name = name
        self.owner = owner

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        raise ModelError(
            f"shared field {self.owner}.{self.name} accessed outside an operation; "
            f"use (yield read(obj, {self.name!r})) or write()"
        )

    def __set__(self, obj, value):
        raise ModelError(
            f"shared field {self.owner}.{self.name} assigned outside an operation; "
            f"use (yield write(obj, {self.name!r}, value))"
        )


class Shared:
    """Base class of model structures with fields shared between threads.

    Subclasses list their shared fields with default values in ``_shared_``.
    Those fields can only be read and written through the ``read``/``write``/
    ``rmw`` operations, so that every access is a scheduling point the
    explorers see.  Other attributes are thread-local or immutable after setup
    and may be used directly.

    Lifetime: ``free(obj)`` (kfree, the final put) marks the object freed; any
    later access to its shared fields is a use after free.  ``_owns_`` names
    the attributes holding lock objects embedded in the structure (a
    ``Mutex``/``RWSem``/``Gate``/``Completion``, or a list or tuple of them,
    e.g. ``_owns_ = ("mutex",)`` for ``struct device``): once the object is
    freed, any operation on those is a use after free too.
    """

    _shared_: dict = {}
    _owns_: tuple = ()

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        fields = {}
        for base in reversed(cls.__mro__[1:]):
            fields.update(getattr(base, "_shared_", {}))
        fields.update(cls.__dict__.get("_shared_", {}))
        cls._shared_ = fields
        for name in cls.__dict__.get("_shared_", {}):
            setattr(cls, name, SharedField(name, cls.__name__))

    def __init__(self, **initial):
        cls = type(self)
        shared = cls._shared_
        info = cls.__dict__.get("_shared_info_")
        if info is None or info[0] is not shared:
            # (the fields' dict, whether a default is callable): set once per class
            info = (shared, any(callable(d) for d in shared.values()))
            type.__setattr__(cls, "_shared_info_", info)
        if info[1]:
            values = {}
            for name, default in shared.items():
                values[name] = initial.pop(name) if name in initial else (
                    default() if callable(default) else default)
        else:  # plain defaults: a copy, then the given values in place
            values = dict(shared)
            if initial:
                for name in shared:
                    if name in initial:
                        values[name] = initial.pop(name)
        object.__setattr__(self, "_v", values)
        object.__setattr__(self, "_fh", {})  # per-field DPOR histories (Hist)
        object.__setattr__(self, "_freed", False)
        object.__setattr__(self, "_free_info", None)  # (thread name, frames, step) of the free
        object.__setattr__(self, "_mh", None)  # DPOR footprint of free(): see deps.MultiHist
        for k, v in initial.items():
            object.__setattr__(self, k, v)

    def owned_sync_objects(self):
        """The lock objects embedded in this structure (named by ``_owns_``), in order."""
        out = []
        for attr in self._owns_:
            v = getattr(self, attr, None)
            if v is None:
                continue
            if isinstance(v, (list, tuple)):
                out.extend(x for x in v if isinstance(x, SyncObject))
            elif isinstance(v, SyncObject):
                out.append(v)
            else:
                raise ModelError(f"{type(self).__name__}._owns_ names {attr!r}, which is not a lock object")
        return out

    def peek(self, field):
        """Read a shared field without an operation: for setup, checks and reports only."""
        return self._v[field]

    def poke(self, field, value):
        """Write a shared field without an operation: for setup only."""
        self._v[field] = value

    def describe(self):
        return getattr(self, "name", type(self).__name__)

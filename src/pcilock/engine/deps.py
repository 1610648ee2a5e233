"""Dependency between events, for partial-order reduction.

Every visible event touches at most one shared object, in one *mode*.  Two
events of different threads on the same object are related in one of three
ways:

``NONE``
    independent: they commute and neither enables nor disables the other
    (two reads; two ``down_read``; two ``complete``).
``HB``
    ordered but never reversible: the second can only happen after the first
    (an unlock and the next blocking lock of the same mutex; a writer's release
    and a blocked reader's acquisition).  The edge is part of happens-before,
    but reversing it is not a race to explore.
``RACE``
    dependent and reversible (two writes; two acquisitions of one mutex; a
    trylock and the unlock it observed).

Treating release→acquire as ``HB`` rather than ``RACE`` is the usual way DPOR
handles blocking locks: the race that matters is between the two
*acquisitions*, and reversing those is always feasible because the lock was
free just before the first one.  When the explorer checks whether a race is
immediate it ignores ``HB`` edges, so that the two acquisitions around an
unlock are seen as racing.

A mode is *total* when it is related to every mode of its object: all earlier
events on the object then happen before it, so a backwards scan of the
object's history can stop there.

Pending (not yet performed) operations whose outcome is unknown, such as a
trylock, get a conservative mode related to everything either outcome is
related to; sleep sets use it.

One operation touches several objects: ``free(obj)`` conflicts with every
access to any shared field of *obj* and with every operation on the lock
objects it owns (a use before the free and a use after it are different
outcomes, so the explorers must try both orders).  Its footprint is a
:class:`MultiHist` over all those histories, in mode ``FREE``, which is a
``RACE`` with every mode (also with itself: a double free).  The free is
recorded in each of the histories, so later events on any of them see it as
an ordinary dependent event; only code comparing two footprints directly
(sleep sets, initials, wakeup trees) needs :func:`fp_dependent` /
:func:`keys_dependent`.
"""

from __future__ import annotations

from . import ops as O

NONE, HB, RACE = 0, 1, 2

_modes = []


def _mode(name):
    _modes.append(name)
    return len(_modes) - 1


# shared fields
F_R = _mode("read")
F_W = _mode("write")
# mutex
M_ACQ = _mode("lock")
M_TRYS = _mode("trylock-ok")
M_TRYF = _mode("trylock-fail")
M_REL = _mode("unlock")
M_TRY = _mode("trylock?")
# rw semaphore
S_RACQ = _mode("down_read")
S_WACQ = _mode("down_write")  # granted to a queued writer
S_WACQD = _mode("down_write-direct")  # taken at once: the outcome of the attempt depended on releases
S_WREG = _mode("down_write-queue")
S_RREL = _mode("up_read")
S_WREL = _mode("up_write")
S_RTRYS = _mode("down_read_trylock-ok")
S_RTRYF = _mode("down_read_trylock-fail")
S_WTRYS = _mode("down_write_trylock-ok")
S_WTRYF = _mode("down_write_trylock-fail")
S_RTRY = _mode("down_read_trylock?")
S_WTRY = _mode("down_write_trylock?")
S_W = _mode("down_write?")
# completion
C_WAIT = _mode("wait")
C_COMP = _mode("complete")
C_TRYS = _mode("try_wait-ok")
C_TRYF = _mode("try_wait-fail")
C_TRY = _mode("try_wait?")
# gate
G_ENTERS = _mode("enter-ok")
G_ENTERF = _mode("enter-fail")
G_LEAVE = _mode("leave")
G_CLOSE = _mode("close")
G_WAIT = _mode("drain")
G_REENTER = _mode("reenter")
G_ENTER = _mode("enter?")
# lifetime: free() of a Shared object (see MultiHist)
FREE = _mode("free")

NMODES = len(_modes)
MODE_NAMES = tuple(_modes)

REL = bytearray(NMODES * NMODES)
TOTAL = bytearray(NMODES)


def _set(a, b, r):
    REL[a * NMODES + b] = r
    REL[b * NMODES + a] = r


def _group(modes, table):
    for (a, b), r in table.items():
        _set(a, b, r)
    for m in modes:
        if all(REL[m * NMODES + x] for x in modes):
            TOTAL[m] = 1


# -- fields: reads commute, everything else conflicts
_group((F_R, F_W), {(F_R, F_R): NONE, (F_R, F_W): RACE, (F_W, F_W): RACE})

# -- mutex
_MUTEX = (M_ACQ, M_TRYS, M_TRYF, M_REL)
_group(_MUTEX, {
    (M_ACQ, M_ACQ): RACE, (M_ACQ, M_TRYS): RACE, (M_ACQ, M_TRYF): RACE, (M_ACQ, M_REL): HB,
    (M_TRYS, M_TRYS): RACE, (M_TRYS, M_TRYF): RACE, (M_TRYS, M_REL): RACE,
    (M_TRYF, M_TRYF): NONE, (M_TRYF, M_REL): RACE,
    (M_REL, M_REL): NONE,
})
for _m in _MUTEX + (M_TRY,):
    _set(M_TRY, _m, RACE if _m != M_TRYF else NONE)

# -- rw semaphore
_RW = (S_RACQ, S_WACQ, S_WACQD, S_WREG, S_RREL, S_WREL, S_RTRYS, S_RTRYF, S_WTRYS, S_WTRYF)
_rw = {
    (S_RACQ, S_RACQ): NONE, (S_RACQ, S_WACQ): RACE, (S_RACQ, S_WREG): RACE,
    (S_RACQ, S_RREL): NONE, (S_RACQ, S_WREL): HB,
    (S_WACQ, S_WACQ): RACE, (S_WACQ, S_WREG): RACE, (S_WACQ, S_RREL): HB, (S_WACQ, S_WREL): HB,
    (S_WACQD, S_RACQ): RACE, (S_WACQD, S_WACQ): RACE, (S_WACQD, S_WACQD): RACE,
    (S_WACQD, S_WREG): RACE, (S_WACQD, S_RREL): RACE, (S_WACQD, S_WREL): RACE,
    (S_WREG, S_WREG): NONE, (S_WREG, S_RREL): RACE, (S_WREG, S_WREL): RACE,
    (S_RREL, S_RREL): NONE, (S_RREL, S_WREL): NONE, (S_WREL, S_WREL): NONE,
}
_rtry = (S_RTRYS, S_RTRYF)
_wtry = (S_WTRYS, S_WTRYF)
for a in _RW:
    for b in _rtry + _wtry:
        both_read = a in (S_RACQ, S_RREL, S_RTRYS, S_RTRYF) and b in _rtry
        _rw[(a, b)] = NONE if both_read else RACE
_rw[(S_RTRYF, S_RTRYF)] = NONE
_rw[(S_WTRYF, S_WTRYF)] = NONE
_group(_RW, _rw)
for _m in _RW:
    _set(S_RTRY, _m, REL[S_RTRYS * NMODES + _m] | REL[S_RTRYF * NMODES + _m])
    _set(S_WTRY, _m, REL[S_WTRYS * NMODES + _m] | REL[S_WTRYF * NMODES + _m])
    _set(S_W, _m, REL[S_WACQD * NMODES + _m] | REL[S_WREG * NMODES + _m])
for a in (S_RTRY, S_WTRY, S_W):
    for b in (S_RTRY, S_WTRY, S_W):
        _set(a, b, RACE if not (a == S_RTRY and b == S_RTRY) else NONE)

# -- completion
_C = (C_WAIT, C_COMP, C_TRYS, C_TRYF)
_group(_C, {
    # a wait consumes one count: which complete() supplied it is not fixed, so
    # a wait races with every complete() (infeasible reversals are filtered)
    (C_WAIT, C_WAIT): RACE, (C_WAIT, C_COMP): RACE, (C_WAIT, C_TRYS): RACE, (C_WAIT, C_TRYF): RACE,
    (C_COMP, C_COMP): NONE, (C_COMP, C_TRYS): RACE, (C_COMP, C_TRYF): RACE,
    (C_TRYS, C_TRYS): RACE, (C_TRYS, C_TRYF): RACE, (C_TRYF, C_TRYF): NONE,
})
for _m in _C + (C_TRY,):
    _set(C_TRY, _m, RACE if _m != C_TRYF else NONE)

# -- gate
_G = (G_ENTERS, G_ENTERF, G_LEAVE, G_CLOSE, G_WAIT, G_REENTER)
_group(_G, {
    (G_ENTERS, G_ENTERS): NONE, (G_ENTERS, G_ENTERF): NONE, (G_ENTERS, G_LEAVE): NONE,
    (G_ENTERS, G_CLOSE): RACE, (G_ENTERS, G_WAIT): NONE, (G_ENTERS, G_REENTER): NONE,
    (G_ENTERF, G_ENTERF): NONE, (G_ENTERF, G_LEAVE): NONE, (G_ENTERF, G_CLOSE): RACE,
    (G_ENTERF, G_WAIT): NONE, (G_ENTERF, G_REENTER): NONE,
    (G_LEAVE, G_LEAVE): NONE, (G_LEAVE, G_CLOSE): RACE, (G_LEAVE, G_WAIT): HB,
    (G_LEAVE, G_REENTER): NONE,
    (G_CLOSE, G_CLOSE): NONE, (G_CLOSE, G_WAIT): NONE, (G_CLOSE, G_REENTER): RACE,
    (G_WAIT, G_WAIT): NONE, (G_WAIT, G_REENTER): RACE, (G_REENTER, G_REENTER): NONE,
})
for _m in _G + (G_ENTER,):
    _set(G_ENTER, _m, RACE if _m in (G_CLOSE,) else NONE)
# a closer's outcome (drain at once or wait) depends on every change of the count

# -- free: conflicts with every event on every object it covers, and with another free
for _m in range(NMODES):
    _set(FREE, _m, RACE)
TOTAL[FREE] = 1


# DEPMASK[m]: bit k set iff modes k and m are related (REL is symmetric), so
# "some mode in a set (a bitmask of modes) is related to m" is ``mask & DEPMASK[m]``
DEPMASK = tuple(sum(1 << k for k in range(NMODES) if REL[k * NMODES + m]) for m in range(NMODES))
assert all(REL[a * NMODES + b] == REL[b * NMODES + a] for a in range(NMODES) for b in range(NMODES)), \
    "REL must be symmetric (probable cause: a relation set without _set)"


class MultiKey(tuple):
    """Stable key of a :class:`MultiHist`: the tuple of its histories' keys."""

    __slots__ = ()


class MultiHist:
    """Footprint of an event touching several objects at once (``free``).

    ``hists`` are the histories of every shared field of the freed object and
    of the lock objects it owns; ``key`` is their keys, for comparisons across
    executions.  Events are appended to every one of the histories.
    """

    __slots__ = ("hists", "key")

    def __init__(self, hists):
        self.hists = tuple(hists)
        self.key = MultiKey(h.key for h in self.hists)

    def __repr__(self):
        return f"<multi {list(self.key)}>"


def life_hist(obj):
    """The footprint of ``free(obj)`` (created once per object and execution)."""
    mh = obj._mh
    if mh is None:
        from .objects import Hist

        hists = []
        fh = obj._fh
        for field in obj._v:
            h = fh.get(field)
            if h is None:
                h = fh[field] = Hist(("field", obj.describe(), field))
            hists.append(h)
        for so in obj.owned_sync_objects():
            hists.append(so._h)
        mh = MultiHist(hists)
        object.__setattr__(obj, "_mh", mh)
    return mh


def keys_dependent(k1, m1, k2, m2):
    """Are events with stable keys *k1*, *k2* and modes *m1*, *m2* dependent?"""
    if k1 is None or k2 is None:
        return False
    if k1 == k2:
        return bool(REL[m1 * NMODES + m2])
    t1 = type(k1) is MultiKey
    t2 = type(k2) is MultiKey
    if not (t1 or t2):
        return False
    a = k1 if t1 else (k1,)
    b = k2 if t2 else (k2,)
    if not REL[m1 * NMODES + m2]:
        return False
    for x in a:
        if x in b:
            return True
    return False


def fp_dependent(h1, m1, h2, m2):
    """Are footprints ``(h1, m1)`` and ``(h2, m2)`` of one execution dependent?"""
    if h1 is None or h2 is None:
        return False
    if h1 is h2:
        return bool(REL[m1 * NMODES + m2])
    t1 = type(h1) is MultiHist
    t2 = type(h2) is MultiHist
    if not (t1 or t2) or not REL[m1 * NMODES + m2]:
        return False
    a = h1.hists if t1 else (h1,)
    b = h2.hists if t2 else (h2,)
    for x in a:
        for y in b:
            if x is y:
                return True
    return False


def pending_mode(op):
    """Mode of the event a pending operation would perform in the current state.

    Sleep sets compare a sleeping thread's next event with what runs; the next
    event is determined by the current state (a trylock on a free mutex
    succeeds), so the outcome-specific mode is used.

    :return: ``(hist, mode)``; ``hist`` is None for operations without a footprint.
    """
    code = op[0]
    if code == O.LOCK:
        return op[1]._h, M_ACQ
    if code == O.TRYLOCK:
        return op[1]._h, (M_TRYS if op[1].owner is None else M_TRYF)
    if code == O.UNLOCK:
        return op[1]._h, M_REL
    if code == O.DOWN_READ:
        return op[1]._h, S_RACQ
    if code == O.DOWN_WRITE:
        s = op[1]
        return s._h, (S_WACQD if s.writer is None and not s.readers else S_WREG)
    if code == O.DOWN_WRITE_WAIT:
        return op[1]._h, S_WACQ
    if code == O.DOWN_READ_TRYLOCK:
        s = op[1]
        return s._h, (S_RTRYS if s.writer is None and not s.wwait else S_RTRYF)
    if code == O.DOWN_WRITE_TRYLOCK:
        s = op[1]
        return s._h, (S_WTRYS if s.writer is None and not s.readers and not s.wwait else S_WTRYF)
    if code == O.UP_READ:
        return op[1]._h, S_RREL
    if code == O.UP_WRITE:
        return op[1]._h, S_WREL
    if code in (O.COMPLETE, O.COMPLETE_ALL):
        return op[1]._h, C_COMP
    if code == O.WAIT_COMPLETION:
        return op[1]._h, C_WAIT
    if code == O.TRY_WAIT_COMPLETION:
        return op[1]._h, (C_TRYS if op[1].done > 0 else C_TRYF)
    if code in (O.READ, O.WRITE, O.RMW):
        obj, field = op[1], op[2]
        h = obj._fh.get(field)
        if h is None:
            from .objects import Hist

            h = obj._fh[field] = Hist(("field", obj.describe(), field))
        return h, (F_R if code == O.READ else F_W)
    if code == O.GATE_ENTER:
        return op[1]._h, (G_ENTERF if op[1].closed else G_ENTERS)
    if code == O.GATE_LEAVE:
        return op[1]._h, G_LEAVE
    if code == O.GATE_CLOSE:
        return op[1]._h, G_CLOSE
    if code == O.GATE_WAIT:
        return op[1]._h, G_WAIT
    if code == O.GATE_REENTER:
        return op[1]._h, G_REENTER
    if code == O.FREE:
        return life_hist(op[1]), FREE
    return None, 0


def related(hist_a, mode_a, hist_b, mode_b):
    """Relation between two footprints (NONE when they touch different objects)."""
    if hist_a is None or hist_b is None:
        return NONE
    if hist_a is not hist_b:
        if fp_dependent(hist_a, mode_a, hist_b, mode_b):
            return REL[mode_a * NMODES + mode_b]
        return NONE
    return REL[mode_a * NMODES + mode_b]

"""Exhaustive exploration: optimal DPOR with wakeup trees.

Algorithm 2 of Abdulla, Aronis, Jonsson and Sagonas, "Source Sets: A
Foundation for Optimal Dynamic Partial Order Reduction" (JACM 64(4), 2017),
run statelessly on top of the same tracker as source-DPOR
(:mod:`pcilock.engine.dpor`).

Where source-DPOR adds one *thread* to reverse a race, optimal DPOR records the
whole *wakeup sequence* ``v = notdep(d, E).e`` in a wakeup tree at d's node
and later follows it, so the reversal really happens instead of being left to
chance; and it skips ``v`` when a sleeping thread is already a *weak initial*
of it (an equivalent exploration was done).  For programs without blocking
operations this explores exactly one execution per Mazurkiewicz trace and no
sleep-set-blocked execution.

Insertion (``insert[E'](v, wut(E'))``): walk down the tree from the root; at
each node take the leftmost child that is a weak initial of what remains of
``v`` (its thread starts ``v`` modulo reordering, or its event is independent of
all of ``v``), remove that thread's first event from ``v`` and descend.  Reaching a
leaf, or exhausting ``v``, means ``v`` is covered; when no child fits, the rest of
``v`` becomes a new rightmost branch.

Events of different executions are compared by the stable key of the object
they touch (kind and name) and their dependency mode.

Blocking operations: a wakeup sequence may end with the pending operation of a
thread that was still blocked when its execution ended, which may stay
disabled; a plan step that is not enabled is skipped and the execution
continues with the default choice (counted in ``stats.infeasible``).
"""

from __future__ import annotations

from . import deps
from . import ops as O
from .dpor import DporExplorer, DporTracker, initials
from .errors import NondeterminismError
from .execution import _MAY_BLOCK, Execution

_REL = deps.REL
_N = deps.NMODES
_DEPMASK = deps.DEPMASK
_CHOOSE = O.CHOOSE


class WNode:
    """A wakeup-tree node: the next event of thread ``tid`` at its position."""

    __slots__ = ("tid", "key", "mode", "spawned", "joined", "children", "byc")

    def __init__(self, tid, key, mode, spawned=None, joined=None):
        self.tid = tid
        self.key = key
        self.mode = mode
        self.spawned = spawned
        self.joined = joined
        self.children = []
        self.byc = None  # a CHOOSE event: {value: children} (each value has its own subtree)

    def sub(self, choice):
        """The subtree below this event when it chose *choice* (None: not a choice)."""
        if choice is None:
            return self.children
        byc = self.byc
        if byc is None:
            byc = self.byc = {}
        kids = byc.get(choice)
        if kids is None:
            kids = byc[choice] = []
        return kids


class ONode:
    """A node of the current execution path (the state before step i)."""

    __slots__ = ("tid", "choice", "nchoices", "wut", "explored", "sleep", "enabled", "fp", "cur")

    def __init__(self, sleep, enabled):
        self.tid = None
        self.choice = None
        self.nchoices = 0
        self.wut = []  # wakeup tree: children still to explore; wut[0] is current
        self.explored = []  # [WNode] explored here, in order (their events at this node)
        self.sleep = sleep  # [WNode] asleep when entering this node (their next events)
        self.enabled = enabled
        self.fp = None  # WNode describing the event performed here in this execution
        self.cur = None  # the WNode being explored


_MultiKey = deps.MultiKey


def _dep(k1, m1, k2, m2):
    if k1 is None:
        return False
    if k1 == k2:
        return _REL[m1 * _N + m2]
    if type(k1) is _MultiKey or type(k2) is _MultiKey:
        return deps.keys_dependent(k1, m1, k2, m2)
    return False


def _still_asleep(sleep, tid, fp):
    """The sleeping events of *sleep* that stay asleep after thread *tid* performed event *fp*."""
    key, mode = fp.key, fp.mode
    if key is None:  # an event touching no object is independent of every event
        return [c for c in sleep if c.tid != tid]
    if type(key) is _MultiKey:
        return [c for c in sleep if c.tid != tid and not _dep(c.key, c.mode, key, mode)]
    # as _dep: only an event on the same key, or touching several objects, can depend on it
    return [c for c in sleep if c.tid != tid and (
        (c.key != key and type(c.key) is not _MultiKey) or not _dep(c.key, c.mode, key, mode))]


def _weak_initial(c, w, init):
    """Is wakeup-tree node *c* a weak initial of sequence *w*?"""
    if c.tid in init:
        return True
    return _independent(c, w)


def _independent(c, w):
    """Does no event of *w* belong to *c*'s thread, depend on *c*'s event (:func:`_dep`),
    or belong to the thread *c* spawns or joins?"""
    ct, ck, cm, sp, jn = c.tid, c.key, c.mode, c.spawned, c.joined
    if ck is None:  # no footprint: independent of every event
        for x in w:
            xt = x.tid
            if xt == ct or xt == sp or xt == jn:
                return False
        return True
    multi = type(ck) is _MultiKey
    row = cm * _N
    for x in w:
        xt = x.tid
        if xt == ct or xt == sp or xt == jn:
            return False
        xk = x.key
        if xk is None:
            continue
        if xk == ck:
            if _REL[row + x.mode]:
                return False
        elif (multi or type(xk) is _MultiKey) and deps.keys_dependent(ck, cm, xk, x.mode):
            return False
    return True


def _weak_initial_of(c, w):
    """:func:`_weak_initial` without the initials of *w* computed beforehand.

    When *c*'s thread occurs in *w*, *c* is a weak initial iff that thread is an
    initial of *w* (:func:`pcilock.engine.dpor.initials`), which depends only on
    the events before its first one; otherwise *c*'s event must be independent
    of every event of *w*.
    """
    ct = c.tid
    for i, x in enumerate(w):
        if x.tid == ct:
            return _initial_at(w, i)
    return _independent(c, w)


def _initial_at(w, i):
    """Is ``w[i]``, the first event of its thread in *w*, free of predecessors in ``w[:i]``?

    The same test as :func:`pcilock.engine.dpor.initials` makes for each first event.
    """
    x = w[i]
    sp = x.spawner
    if sp is not None:
        stid, sseq = sp
        for k in range(i):
            y = w[k]
            if y.tid == stid and y.seq == sseq:
                return False
    jn = x.joined
    if jn is not None:
        if jn == x.tid:
            return False
        for k in range(i):
            if w[k].tid == jn:
                return False
    key = x.key
    if key is None:
        return True
    dm = _DEPMASK[x.mode]
    multi = type(key) is _MultiKey
    for k in range(i):
        y = w[k]
        yk = y.key
        if yk is None or not (dm >> y.mode) & 1:
            continue
        if type(yk) is _MultiKey:
            if multi:
                for sub in yk:
                    if sub in key:
                        return False
            elif key in yk:
                return False
        elif multi:
            if yk in key:
                return False
        elif yk == key:
            return False
    return True


class OptimalDporExplorer(DporExplorer):
    """Optimal DPOR (wakeup trees and weak initials) with sleep sets."""

    name = "dpor"

    # -- race reversal: insert a wakeup sequence --------------------------------------
    def _add_backtrack(self, tracker, d_idx, e_idx, e, virtual=False):
        node = self.nodes[d_idx]
        events = tracker.events
        d = events[d_idx]
        dt, ds = d.tid, d.seq
        v = []
        for x in events[d_idx + 1:e_idx]:
            xc = x.clock
            if len(xc) > dt and xc[dt] >= ds:
                continue
            v.append(x)
        v.append(e)
        init = initials(v)
        for c in node.sleep:
            if _weak_initial(c, v, init):
                return True
        for c in node.explored:
            if _weak_initial(c, v, init):
                return True
        if not any(q in node.enabled for q in init):
            if not virtual:
                self.stats.filtered += 1
            return False
        self._insert(node, v, init)
        return True

    def _insert(self, node, w, init):
        children = node.wut
        first = True
        while True:
            match = None
            if first:
                cur = node.cur
                for c in children:
                    if c is not cur and _weak_initial(c, w, init):
                        match = c
                        break
            else:
                for c in children:
                    if _weak_initial_of(c, w):
                        match = c
                        break
            if match is None:
                self._append(children, w)
                return
            # a choice event has one subtree per value: follow the one w takes
            # (any one when the chooser is not in w: w does not depend on it);
            # a value with no subtree yet gets w as its first branch.  A weak
            # initial whose thread occurs in w is an initial of w.
            choice = None
            mt = match.tid
            for k, x in enumerate(w):
                if x.tid == mt:
                    choice = x.choice
                    w = w[:k] + w[k + 1:]
                    break
            byc = match.byc
            if byc is None:
                kids = match.children
                if not kids:
                    return  # a leaf: w is covered
            else:
                if choice is None:
                    choice = min(byc)
                kids = byc.get(choice)
                if not kids:
                    if w:
                        self._append(match.sub(choice), w)
                    return
            if not w:
                return
            children = kids
            first = False

    @staticmethod
    def _append(children, w):
        parent = children
        for x in w:
            n = WNode(x.tid, x.key, x.mode, x.spawned, x.joined)
            parent.append(n)
            parent = n.sub(x.choice)

    # -- one execution ----------------------------------------------------------------
    def _execute(self, branch):
        tracker = self._tracker = DporTracker(self, self._tracker.events if self._tracker else None)
        kw = {} if self.max_steps is None else {"max_steps": self.max_steps}
        obs = self.observers() if self.observers else ()
        self.ex = None
        ex = Execution(self.program, tracker=tracker, observers=obs,
                       stop_on_violation=self.stop_on_first, registry=self.registry,
                       races=self.races, **kw)
        self._share_known_races(ex)
        self.ex = ex
        nodes = self.nodes
        threads = ex.threads
        sleep = []
        plan = None  # children of the wakeup-tree node being followed
        last = None
        i = 0
        nviol = 0
        # the replayed prefix: the steps of the previous execution before the branch
        tracker.analyzing = False
        ex.race_quiet = self.skip_known_races
        viols = ex.violations
        step = ex.step
        events = tracker.events
        footprint = self._footprint
        is_enabled = ex.is_enabled
        while i < branch:
            node = nodes[i]
            tid = node.tid
            t = threads[tid] if tid < len(threads) else None
            p = None if t is None else t.pending
            if p is None or (p[0] in _MAY_BLOCK and not is_enabled(t)):
                raise NondeterminismError(
                    f"replaying step {i}: thread {tid} is not enabled as it was before; the "
                    f"model is not deterministic (set or dict ordering of objects, id(), time, "
                    f"or unseeded randomness)")
            choice = node.choice
            if choice is None and p[0] == _CHOOSE:
                choice = node.choice = 0
                node.nchoices = p[1]
            step(tid, choice)
            if node.fp is None:  # (a replayed node has the footprint of its event)
                footprint(node, tid, events[-1])
            last = tid
            i += 1
            if viols and len(viols) > nviol:
                nviol = self._collect(ex, nviol, i)
                if self.stop_on_first and self.found:
                    return ex, "violation"
            if (ex.nsteps & 4095) == 0 and self._clock.exhausted(self.stats.executions):
                return ex, "budget"
        ex.race_quiet = False
        while True:
            if i < len(nodes):
                node = nodes[i]
                tracker.analyzing = i >= branch
                tid = node.tid
                if tid >= len(threads) or threads[tid] is None or not ex.is_enabled(threads[tid]):
                    if i < branch:
                        raise NondeterminismError(
                            f"replaying step {i}: thread {tid} is not enabled as it was before; the "
                            f"model is not deterministic (set or dict ordering of objects, id(), time, "
                            f"or unseeded randomness)")
                    self.stats.infeasible += 1
                    node.wut.pop(0)
                    if not self._take_next(node, ex):
                        del nodes[i:]
                        return ex, "infeasible"
                    tid = node.tid
                plan = None  # set after the step, when the choice is known
            else:
                tracker.analyzing = True
                en = ex.enabled()
                if not en:
                    break
                node = ONode(sleep, en)
                asleep = [c.tid for c in sleep] if sleep else ()
                tid = None
                while plan:
                    c = plan[0]
                    if c.tid in en and c.tid not in asleep:
                        tid = c.tid
                        node.wut = plan
                        node.cur = c
                        break
                    self.stats.infeasible += 1
                    plan.pop(0)
                if tid is None:
                    cands = [x for x in en if x not in asleep] if asleep else en
                    if not cands:
                        nodes.append(node)
                        self._blocked_races(ex, tracker)
                        return ex, "sleep-blocked"
                    tid = last if last in cands else cands[0]
                    c = WNode(tid, None, 0)
                    node.wut = [c]
                    node.cur = c
                node.tid = tid
                nodes.append(node)
            p = threads[tid].pending
            choice = node.choice
            if choice is None and p[0] == _CHOOSE:
                choice = node.choice = 0
                node.nchoices = p[1]
            cur = node.cur
            plan = None if cur is None else cur.children if choice is None else cur.sub(choice)
            step(tid, choice)
            if i >= branch or node.fp is None:  # (a replayed step repeats the event it had)
                ev = events[-1]  # as _footprint(node, tid, ev), inline
                node.fp = WNode(tid, ev.key, ev.mode, ev.spawned, ev.joined)
                if cur is not None and cur.key is None:
                    cur.key, cur.mode = ev.key, ev.mode
                    cur.spawned, cur.joined = ev.spawned, ev.joined
            last = tid
            i += 1
            if i >= len(nodes):  # the next node is new: its sleep set (replayed nodes have theirs)
                before = node.sleep + node.explored if node.explored else node.sleep
                sleep = _still_asleep(before, tid, node.fp) if before else []
            if len(viols) > nviol:
                nviol = self._collect(ex, nviol, i)
                if self.stop_on_first and self.found:
                    return ex, "violation"
            if (ex.nsteps & 4095) == 0 and self._clock.exhausted(self.stats.executions):
                return ex, "budget"
        for t in ex.order:
            if t.pending is not None and not ex.is_enabled(t):
                tracker.pending_races(ex, t)
        ex.check_end()
        if self.program.final_checks is not None:
            for kind, message, tids in self.program.final_checks(ex.world, ex):
                ex.add_violation(kind, message, tids, signature=(kind, message))
        if len(ex.violations) > nviol:
            self._collect(ex, nviol, i)
        if self.on_complete is not None:
            self.on_complete(ex, tracker)
        return ex, "complete"

    @staticmethod
    def _footprint(node, tid, ev):
        """Record the event *ev* performed at *node* (and on the wakeup-tree node it followed)."""
        key, mode = ev.key, ev.mode
        node.fp = WNode(tid, key, mode, ev.spawned, ev.joined)
        cur = node.cur
        if cur is not None and cur.key is None:
            cur.key, cur.mode = key, mode
            cur.spawned, cur.joined = ev.spawned, ev.joined

    def _take_next(self, node, ex):
        """Make the leftmost remaining wakeup-tree child current; False if none is runnable."""
        while node.wut:
            c = node.wut[0]
            asleep = [x.tid for x in node.sleep + node.explored]
            if ex.thread(c.tid) is not None and ex.is_enabled(ex.threads[c.tid]) and c.tid not in asleep:
                node.tid = c.tid
                node.cur = c
                node.choice = None
                node.nchoices = 0
                return True
            self.stats.infeasible += 1
            node.wut.pop(0)
        return False

    def _next_branch(self):
        nodes = self.nodes
        i = len(nodes) - 1
        while i >= 0:
            node = nodes[i]
            if node.tid is not None and node.nchoices and node.choice + 1 < node.nchoices:
                node.choice += 1
                del nodes[i + 1:]
                return i
            if node.tid is not None:
                node.explored.append(node.fp if node.fp is not None else WNode(node.tid, None, 0))
                if node.wut and node.wut[0] is node.cur:
                    node.wut.pop(0)
            wut = node.wut
            if wut:
                asleep = [x.tid for x in node.sleep + node.explored]
                while wut and wut[0].tid in asleep:
                    wut.pop(0)
            if wut:
                c = wut[0]
                node.tid = c.tid
                node.cur = c
                node.choice = None
                node.nchoices = 0
                node.fp = None
                del nodes[i + 1:]
                return i
            nodes.pop()
            i -= 1
        return None

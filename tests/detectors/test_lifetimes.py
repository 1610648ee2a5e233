"""Object lifetimes: free(), use after free, kref helpers, NULL-pointer checks."""

import pytest

from pcilock.engine import ModelError, Mutex, Program, Setup, Shared, ThreadSpec, explore, replay
from pcilock.engine import ops as O


class Dev(Shared):
    """A refcounted structure with an embedded mutex (``struct device``)."""

    _shared_ = {"refcount": 1, "state": 0}
    _owns_ = ("mutex",)

    def __init__(self, name="dev0"):
        super().__init__()
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "mutex", Mutex(f"&{name}->mutex"))


def _two(a, b, names=("remover", "user")):
    def setup():
        d = Dev()
        return Setup([ThreadSpec(names[0], a, (d,)), ThreadSpec(names[1], b, (d,))], d)
    return Program(setup, name="lifetime")


def remover(d):
    yield O.free(d)


def reader(d):
    yield O.read(d, "state", marked=True)


def test_read_after_free_is_found_by_dpor():
    r = explore(_two(remover, reader))
    assert r.verdict == "uaf"
    f = r.found[0]
    assert f.kind == "uaf"
    assert "after it was freed" in f.message and "Dev.state" in f.message
    assert f.detail["use"]["thread"] == "user" and f.detail["free"]["thread"] == "remover"
    assert f.detail["use"]["frames"][-1][0] == "reader"
    assert f.detail["free"]["frames"][-1][0] == "remover"
    assert f.detail["use"]["frames"][-1][1].endswith("test_lifetimes.py")
    ops = [e.text for e in f.trace.ex.trace]
    assert ops == ["free(dev0)", "read_once(dev0.state) -> 0"]


def test_use_before_free_only_is_fine():
    def user_then_free(d):
        yield O.read(d, "state")
        yield O.free(d)
    r = explore(Program(lambda: [ThreadSpec("T", user_then_free, (Dev(),))]))
    assert r.verdict == "ok" and r.exhaustive


def test_lock_of_an_owned_mutex_after_free():
    def locker(d):
        yield O.lock(d.mutex)
        yield O.unlock(d.mutex)
    r = explore(_two(remover, locker), stop_on_first=False)
    assert r.verdict == "uaf"
    targets = [f.detail["use"]["op"] for f in r.found]
    assert targets == ["lock", "unlock"]  # one report per use site
    assert "&dev0->mutex" in r.found[0].message


def test_unrelated_mutex_is_not_owned():
    def setup():
        d = Dev()
        other = Mutex("other")

        def locker(d):
            yield O.lock(other)
            yield O.unlock(other)
        return [ThreadSpec("remover", remover, (d,)), ThreadSpec("user", locker, (d,))]
    assert explore(Program(setup), stop_on_first=False).verdict == "ok"


def test_double_free():
    r = explore(_two(remover, remover, names=("a", "b")))
    assert r.verdict == "uaf"
    assert "double free" in r.found[0].message


def test_only_shared_objects_can_be_freed():
    def t():
        yield O.free(Mutex("m"))
    r = explore(Program(lambda: [ThreadSpec("T", t)]))
    assert r.verdict == "model-error"
    assert isinstance(r.error, ModelError) and "only Shared" in r.error.message


# -- kref helpers ---------------------------------------------------------------------------

def _kref(buggy):
    """Two holders of one reference each; the last put frees the object."""
    def setup():
        d = Dev()
        d.poke("refcount", 2)

        def holder():
            yield O.write(d, "state", 1, marked=True)
            yield from O.put_ref(d)
            if buggy:
                yield O.read(d, "state", marked=True)  # use after dropping the reference
        return Setup([ThreadSpec("A", holder), ThreadSpec("B", holder)], d)
    return Program(setup, name="kref")


def test_kref_protects_the_object():
    r = explore(_kref(False), stop_on_first=False)
    assert r.verdict == "ok" and r.exhaustive


def test_use_after_put_is_found():
    r = explore(_kref(True), stop_on_first=False)
    assert r.verdict == "uaf"
    assert len(r.found) == 1  # one use site, one free site: one report
    f = r.found[0]
    # the final put freed it, from inside put_ref
    assert [fr[0] for fr in f.detail["free"]["frames"]][-2:] == ["holder", "put_ref"]
    assert f.detail["use"]["frames"][-1][0] == "holder"


def test_get_ref_on_zero_and_put_underflow():
    def t(d):
        yield from O.put_ref(d)  # frees
        yield from O.get_ref(d)
    r = explore(Program(lambda: [ThreadSpec("T", t, (Dev(),))]), stop_on_first=False)
    msgs = [f.message for f in r.found]
    assert any("use after free" in m for m in msgs)  # the rmw itself touches freed memory
    assert any("addition on 0" in m for m in msgs)
    assert all(f.kind == "uaf" for f in r.found)


def test_release_callback_runs_before_the_free():
    log = []

    def release(d):
        log.append("release")
        yield O.write(d, "state", 9)

    def t(d):
        freed = yield from O.put_ref(d, release=release)
        log.append(freed)
    r = explore(Program(lambda: [ThreadSpec("T", t, (Dev(),))]))
    assert r.verdict == "ok" and log[:2] == ["release", True]


# -- NULL pointer checks ----------------------------------------------------------------------

def test_null_pointer_check_is_a_uaf_violation_with_its_stack():
    class PciDev(Shared):
        _shared_ = {"slot": None}

    def setup():
        pdev = PciDev()

        def remove():
            yield O.write(pdev, "slot", None)

        def show():
            slot = yield O.read(pdev, "slot", marked=True)
            yield O.check(slot is not None, "NULL pointer dereference: pci_dev->slot", kind="uaf")
        return Setup([ThreadSpec("remove", remove), ThreadSpec("show", show)], pdev)
    r = explore(Program(setup), races=False)
    assert r.verdict == "uaf"
    f = r.found[0]
    assert f.message == "NULL pointer dereference: pci_dev->slot"
    assert f.detail["frames"][-1][0] == "show"
    again = replay(Program(setup), f.schedule)
    assert [v.kind for v in again.ex.violations] == ["uaf"]


@pytest.mark.parametrize("strategy", ["source-dpor", "random", "bounded"])
def test_uaf_found_by_other_strategies(strategy):
    r = explore(_two(remover, reader), strategy=strategy, seed=0, runs=50)
    assert r.verdict == "uaf"

"""Bad models are model errors naming the thread and the model line, never verdicts."""

from pcilock.engine import Mutex, Program, RWSem, ThreadSpec, explore
from pcilock.engine import ops as O


def _prog(*fns):
    return Program(lambda: [ThreadSpec(f"T{i}", f) for i, f in enumerate(fns)])


def _where(r):
    return r.error.frames[-1] if r.error.frames else None


def test_unknown_operation():
    def t():
        yield ("not", "an op")
    r = explore(_prog(t))
    assert r.verdict == "model-error" and r.exit_code == 4
    assert "T0" in r.error.message and "not an operation" in r.error.message
    assert _where(r)[0] == "t" and _where(r)[1].endswith("test_errors.py")


def test_unknown_opcode():
    def t():
        yield (999, None)
    r = explore(_prog(t))
    assert r.verdict == "model-error"
    assert "unknown operation code 999" in r.error.message


def test_unlock_of_a_lock_not_held_is_the_kernels_bad_unlock_balance_warning():
    """Not a model error: a faithful model of buggy kernel code (pci_slot_trylock before
    9368d1ee6282) unlocks what it did not lock, and lockdep warns about exactly that."""
    def setup():
        m, s = Mutex("m"), RWSem("s")

        def t0():
            yield O.lock(m)
            yield O.schedule_point()
            yield O.unlock(m)

        def t1():
            yield O.unlock(m)
            yield O.up_read(s)
            yield O.up_write(s)
        return [ThreadSpec("T0", t0), ThreadSpec("T1", t1)]
    r = explore(Program(setup), stop_on_first=False)
    assert r.error is None and r.verdict == "warn"
    messages = sorted(f.message for f in r.found)
    # one report per kind and code location (--all deduplication): T1's mutex_unlock is one
    assert len(messages) == 3
    assert messages[0] in ("bad unlock balance: task T1 does mutex_unlock(m) held by T0",
                           "bad unlock balance: task T1 does mutex_unlock(m) held by nobody")
    assert messages[1:] == ["bad unlock balance: task T1 does up_read(s) without holding it for reading",
                            "bad unlock balance: task T1 does up_write(s) without holding it for writing"]
    # T0 still owns m after T1's bad unlock: its own unlock is fine
    assert all("T0 does" not in m for m in messages)


def test_exception_in_model_code_is_a_model_error_with_its_line():
    def t():
        yield O.schedule_point()
        {}["missing"]
    r = explore(_prog(t))
    assert r.verdict == "model-error"
    assert "KeyError" in r.error.message and "T0" in r.error.message
    name, path, line = _where(r)
    assert name == "t" and path.endswith("test_errors.py")


def test_runaway_loop_hits_the_step_bound():
    def t():
        while True:
            yield O.schedule_point()
    r = explore(_prog(t), max_steps=1000)
    assert r.verdict == "model-error"
    assert "exceeded 1000 steps" in r.error.message and "T0" in r.error.message


def test_thread_that_never_yields_is_stopped_by_the_watchdog():
    def t():
        yield O.schedule_point()
        while True:
            pass
    r = explore(_prog(t), step_limit=0.5)
    assert r.verdict == "model-error"
    assert "without yielding" in r.error.message and "T0" in r.error.message
    assert "test_errors.py" in r.error.message


def test_shared_field_outside_an_operation():
    from pcilock.engine import Shared

    class S(Shared):
        _shared_ = {"x": 0}

    def setup():
        s = S()

        def t():
            yield O.schedule_point()
            s.x  # noqa: B018 - the point of the test
        return [ThreadSpec("T0", t)]
    r = explore(Program(setup))
    assert r.verdict == "model-error"
    assert "accessed outside an operation" in r.error.message


def test_an_operation_on_a_field_of_none_is_a_model_error_naming_the_thread_and_line():
    """The error is raised by the engine performing the operation, not by model code: it
    still names the thread and the model line that yielded it (it named neither)."""
    def t():
        obj = None
        yield O.read(obj, "state")
    r = explore(_prog(t))
    assert r.verdict == "model-error" and r.exit_code == 4
    assert r.error.thread == "T0"
    assert "'state' of None" in r.error.message and "not a Shared model object" in r.error.message
    assert _where(r)[0] == "t" and _where(r)[1].endswith("test_errors.py")

"""Bad models are model errors naming the thread and the model line, never verdicts."""

from pcilock.engine import Mutex, Program, ThreadSpec, explore
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


def test_unlock_of_a_lock_not_held():
    def setup():
        m = Mutex("m")

        def t():
            yield O.unlock(m)
        return [ThreadSpec("T0", t)]
    r = explore(Program(setup))
    assert r.verdict == "model-error"
    assert "unlocks mutex m held by nobody" in r.error.message


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

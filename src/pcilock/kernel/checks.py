"""End-of-run checks on the modelled machine (after every complete execution).

* no VF still registered while its PF is gone;
* no driver still bound to a device that was deleted;
* no task left holding a lock is checked by the engine itself.

Model-only: mirrors no kernel function; the checks state invariants the
kernel relies on.
"""

from __future__ import annotations


def final_checks(world, ex):
    out = []
    devs = world.attrs["devices"]
    for bdf in sorted(devs):
        dev = devs[bdf]
        if dev.is_virtfn and dev.peek("registered") and not dev.physfn.peek("registered"):
            out.append(("warn", f"VF {bdf} is still registered but its PF {dev.physfn.bdf} was removed", []))
        if dev.peek("driver") is not None and dev.peek("dead"):
            out.append(("uaf", f"driver {dev.peek('driver').name} still bound to deleted device {bdf}", []))
    return out

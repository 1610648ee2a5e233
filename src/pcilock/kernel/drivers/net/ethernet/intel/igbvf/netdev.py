"""Model driver igbvf (drivers/net/ethernet/intel/igbvf/netdev.c): the igb VF driver.

``igbvf_probe`` ends in ``register_netdev`` (rtnl_lock).  ``igbvf_remove``
cancels the watchdog timer and its two works (``reset_task``,
``watchdog_task``), then ``unregister_netdev`` (rtnl_lock).  The works are
queued by the watchdog and the TX timeout, which the model never runs, so
the cancels find them idle (elided).  Lines checked in netdev.c of all three
trees.

Error handlers (``igbvf_err_handler``, the same in v6.1/v6.12/v7.2):
``igbvf_io_error_detected`` (``igbvf_down``, no rtnl: NEED_RESET, DISCONNECT on
perm_failure), ``igbvf_io_slot_reset`` (re-enable, reset: RECOVERED),
``igbvf_io_resume`` (``igbvf_up``); none takes a lock.  v6.12/v7.2 also have
``reset_prepare = igbvf_io_prepare`` (spin until it owns the
``__IGBVF_RESETTING`` bit of ``adapter->state``, then ``igbvf_down``) and
``reset_done = igbvf_io_reset_done`` (``igbvf_up``, clear the bit): a bit
lock held across a function reset, modelled as a mutex per device (the
other owners of the bit, ``igbvf_reinit_locked`` from ``reset_task`` and
the ethtool/MTU paths under rtnl, are not modelled).  v6.1 has neither.
"""

from __future__ import annotations

from pcilock._engine_imports import Mutex, lock, unlock
from pcilock.kernel._model import K, W, mirrors
from pcilock.kernel.include.linux.pci import PciDriver

NAME = "igbvf"


def _resetting(pdev):
    """The ``__IGBVF_RESETTING`` bit of ``adapter->state`` as a lock (model-only, see docstring)."""
    m = getattr(pdev, "igbvf_resetting", None)
    if m is None:
        m = pdev.igbvf_resetting = Mutex(f"__IGBVF_RESETTING {pdev.bdf}", "__IGBVF_RESETTING")
    return m


@mirrors("drivers/net/ethernet/intel/igbvf/netdev.c", v61=2683, v612=2709, v72=2698)
def igbvf_probe(pdev):
    yield lock(W.rtnl_mutex)  # register_netdev
    yield unlock(W.rtnl_mutex)
    return 0


@mirrors("drivers/net/ethernet/intel/igbvf/netdev.c", v61=2880, v612=2906, v72=2892)
def igbvf_remove(pdev):
    # elided: del_timer_sync(watchdog_timer), cancel_work_sync(reset_task, watchdog_task): never queued
    yield lock(W.rtnl_mutex)  # unregister_netdev
    yield unlock(W.rtnl_mutex)


@mirrors("drivers/net/ethernet/intel/igbvf/netdev.c", note="no lock", v61=2527, v612=2526, v72=2515)
def igbvf_io_error_detected(pdev, state):
    return 4 if state == "perm_failure" else 3  # DISCONNECT / NEED_RESET
    yield


@mirrors("drivers/net/ethernet/intel/igbvf/netdev.c", note="no lock", v61=2553, v612=2552, v72=2541)
def igbvf_io_slot_reset(pdev):
    return 5  # PCI_ERS_RESULT_RECOVERED
    yield


@mirrors("drivers/net/ethernet/intel/igbvf/netdev.c", note="no lock", v61=2578, v612=2577, v72=2566)
def igbvf_io_resume(pdev):
    return
    yield


@mirrors("drivers/net/ethernet/intel/igbvf/netdev.c", note="6.12/7.2: take the __IGBVF_RESETTING bit "
         "(test_and_set_bit + usleep_range loop), igbvf_down", v612=2597, v72=2586)
def igbvf_io_prepare(pdev):
    yield lock(_resetting(pdev))
    # igbvf_down(adapter): NAPI, timer, queues (no lock)


@mirrors("drivers/net/ethernet/intel/igbvf/netdev.c", note="6.12/7.2: igbvf_up, clear the bit", v612=2611,
         v72=2600)
def igbvf_io_reset_done(pdev):
    # igbvf_up(adapter)
    yield unlock(_resetting(pdev))


def make_driver():
    drv = PciDriver(NAME, probe=lambda d: K.igbvf_probe(d), remove=lambda d: K.igbvf_remove(d),
                    ids=lambda d: d.is_virtfn and d.physfn.spec.vf_driver == NAME)
    drv.err_handler = {"error_detected": lambda d, s: K.igbvf_io_error_detected(d, s),
                       "slot_reset": lambda d: K.igbvf_io_slot_reset(d),
                       "resume": lambda d: K.igbvf_io_resume(d)}
    drv.err_handler["reset_prepare"] = lambda d: _since_6_12("igbvf_io_prepare", d)
    drv.err_handler["reset_done"] = lambda d: _since_6_12("igbvf_io_reset_done", d)
    return drv


def _since_6_12(name, pdev):
    """Model-only: the driver object is built before the regime's table is active, so the v6.1 absence
    of reset_prepare/reset_done is decided at call time (6.1 has no 7.2-style warning, so a missing
    callback and this empty one behave alike there)."""
    fn = K.__dict__.get(name)
    if fn is not None:
        yield from fn(pdev)

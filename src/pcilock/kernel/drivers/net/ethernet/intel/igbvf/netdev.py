"""Model driver igbvf (drivers/net/ethernet/intel/igbvf/netdev.c): the igb VF driver.

``igbvf_probe`` ends in ``register_netdev`` (rtnl_lock), ``igbvf_remove`` starts
with ``unregister_netdev`` (rtnl_lock).  netdev.c was not in the extracted
trees, so the line numbers are unchecked; the two rtnl sections are what the
model relies on.

Error handlers (``igbvf_err_handler``, read in v7.2's netdev.c):
``igbvf_io_error_detected`` (``igbvf_down``, no rtnl: NEED_RESET, DISCONNECT on
perm_failure), ``igbvf_io_slot_reset`` (re-enable, reset: RECOVERED),
``igbvf_io_resume`` (``igbvf_up``); none takes a lock.
"""

from __future__ import annotations

from pcilock._engine_imports import lock, unlock
from pcilock.kernel._model import K, W, mirrors
from pcilock.kernel.include.linux.pci import PciDriver

NAME = "igbvf"


@mirrors("drivers/net/ethernet/intel/igbvf/netdev.c", v61=None, v612=None, v72=None)
def igbvf_probe(pdev):
    yield lock(W.rtnl_mutex)  # register_netdev
    yield unlock(W.rtnl_mutex)
    return 0


@mirrors("drivers/net/ethernet/intel/igbvf/netdev.c", v61=None, v612=None, v72=None)
def igbvf_remove(pdev):
    yield lock(W.rtnl_mutex)  # unregister_netdev
    yield unlock(W.rtnl_mutex)


@mirrors("drivers/net/ethernet/intel/igbvf/netdev.c", note="no lock", v61=None, v612=None, v72=2515)
def igbvf_io_error_detected(pdev, state):
    return 4 if state == "perm_failure" else 3  # DISCONNECT / NEED_RESET
    yield


@mirrors("drivers/net/ethernet/intel/igbvf/netdev.c", note="no lock", v61=None, v612=None, v72=2541)
def igbvf_io_slot_reset(pdev):
    return 5  # PCI_ERS_RESULT_RECOVERED
    yield


@mirrors("drivers/net/ethernet/intel/igbvf/netdev.c", note="no lock", v61=None, v612=None, v72=2566)
def igbvf_io_resume(pdev):
    return
    yield


def make_driver():
    drv = PciDriver(NAME, probe=lambda d: K.igbvf_probe(d), remove=lambda d: K.igbvf_remove(d),
                    ids=lambda d: d.is_virtfn and d.physfn.spec.vf_driver == NAME)
    drv.err_handler = {"error_detected": lambda d, s: K.igbvf_io_error_detected(d, s),
                       "slot_reset": lambda d: K.igbvf_io_slot_reset(d),
                       "resume": lambda d: K.igbvf_io_resume(d)}
    return drv

"""Model driver igbvf (drivers/net/ethernet/intel/igbvf/netdev.c): the igb VF driver.

``igbvf_probe`` ends in ``register_netdev`` (rtnl_lock), ``igbvf_remove`` starts
with ``unregister_netdev`` (rtnl_lock).  netdev.c was not in the extracted
trees, so the line numbers are unchecked; the two rtnl sections are what the
model relies on.
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


def make_driver():
    return PciDriver(NAME, probe=lambda d: K.igbvf_probe(d), remove=lambda d: K.igbvf_remove(d),
                     ids=lambda d: d.is_virtfn and d.physfn.spec.vf_driver == NAME)

"""2fa119c0e5e5 Revert "PCI/IOV: Add PCI rescan-remove locking when enabling/disabling SR-IOV".

Niklas Schnelle, 2025-12 (v3 of the series with a5338e365c45); in all three
bases.  Reverting this revert (``-2fa119c0e5e5``) re-applies 05703271c3cd.
https://patch.msgid.link/20251216-revert_sriov_lock-v3-1-dac4925a7621@linux.ibm.com
"""

from __future__ import annotations

from pcilock.kernel._model import BASES

from . import commit_05703271c3cd as orig
from ._patch import Patch
from .regime import register

PATCH = register(Patch(
    id="2fa119c0e5e5",
    title='Revert "PCI/IOV: Add PCI rescan-remove locking when enabling/disabling SR-IOV"',
    links=["https://patch.msgid.link/20251216-revert_sriov_lock-v3-1-dac4925a7621@linux.ibm.com"],
    in_bases=BASES,
))
PATCH.reverts = "05703271c3cd"
# before this revert, the functions were as 05703271c3cd made them
for _name, _variants in orig.PATCH.after.items():
    PATCH.before[_name] = list(_variants)

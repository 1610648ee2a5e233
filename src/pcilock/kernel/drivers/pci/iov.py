"""drivers/pci/iov.c: SR-IOV enable/disable, VF add/remove, the sysfs files.

The lock structure of these functions is the same in 6.1.192, 6.12.117 and
7.2.13 (checked against the three trees); the base state contains
a5338e365c45 (RRL around ``->sriov_configure`` in ``sriov_numvfs_store``) and
2fa119c0e5e5 (no RRL in ``sriov_add_vfs``/``sriov_del_vfs``).  SR-IOV
capability registers, BARs and resources are not modelled; the config-access
lock taken around the SRIOV_CTRL write is.
"""

from __future__ import annotations

from pcilock._engine_imports import note, read, write
from pcilock.kernel._model import K, W, mirrors

EINVAL, ERANGE, ENOENT, EBUSY, ENOSYS, EOPNOTSUPP, ENODEV = -22, -34, -2, -16, -38, -95, -19


def _u16(buf):
    try:
        v = int(buf.strip(), 0)
    except ValueError:
        return None
    return v if 0 <= v <= 0xFFFF else None


@mirrors("drivers/pci/iov.c", v61=27, v612=27, v72=32)
def pci_iov_virtfn_devfn(dev, vf_id):
    rid = dev.devfn + dev.sriov.offset + dev.sriov.stride * vf_id
    return rid & 0xFF


@mirrors("drivers/pci/iov.c", v61=19, v612=19, v72=24)
def pci_iov_virtfn_bus(dev, vf_id):
    rid = dev.devfn + dev.sriov.offset + dev.sriov.stride * vf_id
    return dev.bus.number + (rid >> 8)


@mirrors("drivers/pci/iov.c", note="CONFIG_PCI_MSI; the PF's device lock around the driver callback",
         v61=205, v612=204, v72=230)
def sriov_vf_total_msix_show(dev):
    vf_total_msix = 0
    yield from K.device_lock(dev)
    drv = yield read(dev, "pci_driver")
    if drv is not None and drv.sriov_get_vf_total_msix is not None:
        vf_total_msix = yield from drv.sriov_get_vf_total_msix(dev)
    yield from K.device_unlock(dev)
    return vf_total_msix


@mirrors("drivers/pci/iov.c", note="CONFIG_PCI_MSI; on every VF: device_lock(PF), and only then the check "
         "that the PF driver has sriov_set_msix_vec_count; then device_lock(VF)", v61=223, v612=222, v72=248)
def sriov_vf_msix_count_store(vf_dev, buf):
    pdev = vf_dev.physfn  # pci_physfn
    try:
        val = int(buf.strip(), 0)  # kstrtoint
    except ValueError:
        return EINVAL
    if val < 0:
        return EINVAL
    yield from K.device_lock(pdev)
    drv = yield read(pdev, "pci_driver")
    if drv is None or drv.sriov_set_msix_vec_count is None:
        ret = EOPNOTSUPP
    else:
        yield from K.device_lock(vf_dev)
        if (yield read(vf_dev, "pci_driver")) is not None:
            ret = EBUSY  # a bound VF driver sized itself for the current count
        else:
            ret = yield from drv.sriov_set_msix_vec_count(vf_dev, val)
        yield from K.device_unlock(vf_dev)
    yield from K.device_unlock(pdev)
    return ret if ret else len(buf)


@mirrors("drivers/pci/iov.c", v61=394, v612=393, v72=441)
def sriov_numvfs_show(dev):
    yield from K.device_lock(dev)
    num_vfs = yield read(dev.sriov, "num_VFs")
    yield from K.device_unlock(dev)
    return num_vfs


@mirrors("drivers/pci/iov.c", note="a5338e365c45: RRL around ->sriov_configure", v61=416, v612=415, v72=463)
def sriov_numvfs_store(dev, buf):
    num_vfs = _u16(buf)
    if num_vfs is None:
        return EINVAL
    if num_vfs > dev.sriov.total_VFs:
        return ERANGE
    yield from K.device_lock(dev)
    ret = 0
    if num_vfs == (yield read(dev.sriov, "num_VFs")):
        pass
    elif (drv := (yield read(dev, "pci_driver"))) is None:
        ret = ENOENT
    elif drv.sriov_configure is None:
        ret = ENOENT
    elif num_vfs == 0:
        yield from K.pci_lock_rescan_remove()
        ret = yield from drv.sriov_configure(dev, 0)
        yield from K.pci_unlock_rescan_remove()
    elif (yield read(dev.sriov, "num_VFs")):
        ret = EBUSY
    else:
        yield from K.pci_lock_rescan_remove()
        ret = yield from drv.sriov_configure(dev, num_vfs)
        yield from K.pci_unlock_rescan_remove()
    yield from K.device_unlock(dev)
    return ret if ret < 0 else len(buf)


@mirrors("lib/kstrtox.c", note="6.x: y/t/1, n/f/0, on/of(f) by the first characters", v61=348, v612=348)
def kstrtobool(s):
    return _kstrtobool(s, "YyTt1", "NnFf0")
    yield


@mirrors("lib/kstrtox.c", note="7.2: also e(nable)/d(isable)", v72=355)
def kstrtobool(s):  # noqa: F811
    return _kstrtobool(s, "EeYyTt1", "DdNnFf0")
    yield


def _kstrtobool(s, true_chars, false_chars):
    # model-only helper: the value, or None for -EINVAL
    if s[:1] and s[0] in true_chars:
        return True
    if s[:1] and s[0] in false_chars:
        return False
    if s[:1] in ("o", "O") and s[1:2]:
        if s[1] in "nN":
            return True
        if s[1] in "fF":
            return False
    return None


@mirrors("drivers/pci/iov.c", v61=520, v612=519, v72=567)
def sriov_drivers_autoprobe_store(dev, buf):
    v = yield from K.kstrtobool(buf)
    if v is None:
        return EINVAL
    yield write(dev.sriov, "drivers_autoprobe", v)
    return len(buf)


@mirrors("drivers/pci/iov.c", note="VFs live on the PF's bus unless the routing ID crosses a bus",
         v61=123, v612=122, v72=127)
def virtfn_add_bus(bus, busnr):
    if bus.number == busnr:
        return bus
    child = yield from K.pci_find_bus(bus.domain, busnr)
    if child is not None:
        return child
    return (yield from K.pci_add_new_bus(bus, None, busnr))


@mirrors("drivers/pci/iov.c", v61=143, v612=142, v72=147)
def virtfn_remove_bus(physbus, virtbus):
    if physbus is not virtbus and not (yield read(virtbus, "devices")):
        yield from K.pci_remove_bus(virtbus)


@mirrors("drivers/pci/iov.c", note="6.x allocates inline; 7.2 via pci_iov_scan_device (same locks)",
         v61=289, v612=288, v72=346)
def pci_iov_add_virtfn(dev, vf_id):
    busnr = K.pci_iov_virtfn_bus(dev, vf_id)
    bus = yield from K.virtfn_add_bus(dev.bus, busnr)
    devfn = K.pci_iov_virtfn_devfn(dev, vf_id)
    virtfn = W.pci_alloc_vf(dev, vf_id, bus, devfn)
    yield from K.get_device(dev)  # virtfn->physfn = pci_dev_get(dev)
    yield from K.pci_setup_device(virtfn)  # pci_dev_assign_slot: pci_slot_mutex
    yield from K.pci_device_add(virtfn, bus)
    # pci_iov_sysfs_link: virtfnN / physfn links
    yield from K.pci_bus_add_device(virtfn)
    return 0


@mirrors("drivers/pci/iov.c", v61=356, v612=355, v72=403)
def pci_iov_remove_virtfn(dev, vf_id):
    busnr = K.pci_iov_virtfn_bus(dev, vf_id)
    devfn = K.pci_iov_virtfn_devfn(dev, vf_id)
    virtfn = yield from K.pci_get_domain_bus_and_slot(dev.bus.domain, busnr, devfn)
    if virtfn is None:
        return
    # sysfs_remove_link(virtfnN), sysfs_remove_link(physfn)
    yield from K.pci_stop_and_remove_bus_device(virtfn)
    yield from K.virtfn_remove_bus(dev.bus, virtfn.bus)
    yield from K.put_device(virtfn)  # pci_dev_put(virtfn)
    yield from K.put_device(dev)  # pci_dev_put(dev): the VF's reference on its PF


@mirrors("drivers/pci/iov.c", note="base: no RRL (2fa119c0e5e5 reverted 05703271c3cd)",
         v61=581, v612=580, v72=628)
def sriov_add_vfs(dev, num_vfs):
    for i in range(num_vfs):
        rc = yield from K.pci_iov_add_virtfn(dev, i)
        if rc:
            for j in reversed(range(i)):
                yield from K.pci_iov_remove_virtfn(dev, j)
            return rc
    return 0


@mirrors("drivers/pci/iov.c", v61=602, v612=601, v72=649)
def sriov_enable(dev, nr_virtfn):
    if not nr_virtfn:
        return 0
    if (yield read(dev.sriov, "num_VFs")):
        return EINVAL
    if nr_virtfn > dev.sriov.total_VFs:
        return EINVAL
    # MMIO resources of the VF BARs: not modelled
    if dev.sriov.link != dev.devfn:  # Function Dependency Link: the PF it depends on must exist
        pdev = yield from K.pci_get_slot(dev.bus, dev.sriov.link)
        if pdev is None:
            return ENODEV
        yield from K.put_device(pdev)  # sysfs dep_link to it
    initial = min(nr_virtfn, dev.sriov.initial_VFs)
    # pcibios_sriov_enable: arch (powerpc, s390), not modelled
    # pci_iov_set_numvfs; VF Enable | VF MSE written under the config-access lock (then msleep(100))
    yield from K.pci_cfg_access_lock(dev)
    yield from K.pci_cfg_access_unlock(dev)
    rc = yield from K.sriov_add_vfs(dev, initial)
    if rc:
        yield from K.pci_cfg_access_lock(dev)
        yield from K.pci_cfg_access_unlock(dev)
        return rc
    yield write(dev.sriov, "num_VFs", nr_virtfn)
    return 0


@mirrors("drivers/pci/iov.c", note="base: no RRL (2fa119c0e5e5)", v61=712, v612=711, v72=764)
def sriov_del_vfs(dev):
    for i in range((yield read(dev.sriov, "num_VFs"))):
        yield from K.pci_iov_remove_virtfn(dev, i)


@mirrors("drivers/pci/iov.c", v61=721, v612=720, v72=773)
def sriov_disable(dev):
    if not (yield read(dev.sriov, "num_VFs")):
        return
    yield from K.sriov_del_vfs(dev)
    yield from K.pci_cfg_access_lock(dev)
    yield from K.pci_cfg_access_unlock(dev)
    yield write(dev.sriov, "num_VFs", 0)


@mirrors("drivers/pci/iov.c", v61=1073, v612=1072, v72=1166)
def pci_enable_sriov(dev, nr_virtfn):
    if not dev.is_physfn:
        return ENOSYS
    return (yield from K.sriov_enable(dev, nr_virtfn))


@mirrors("drivers/pci/iov.c", v61=1088, v612=1087, v72=1181)
def pci_disable_sriov(dev):
    if not dev.is_physfn:
        return
    yield from K.sriov_disable(dev)


@mirrors("drivers/pci/iov.c", v61=932, v612=931, v72=1022)
def pci_iov_remove(dev):
    if not dev.is_physfn:
        return
    if (yield read(dev.sriov, "num_VFs")):
        yield note(f"pci_warn: {dev.bdf}: driver left SR-IOV enabled after remove")


@mirrors("drivers/pci/iov.c", v61=1105, v612=1104, v72=1198)
def pci_num_vf(dev):
    if not dev.is_physfn:
        return 0
    return (yield read(dev.sriov, "num_VFs"))

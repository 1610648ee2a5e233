"""Every @mirrors line of the model and of the patches points at the function it names, in the
kernel trees when they are present (skipped otherwise; set PCILOCK_KERNEL_TREES to a folder
holding 6.1/linux-source-6.1, 6.12/linux-source-6.12 and 7.2/linux-source-7.2, e.g. made by
``.ci/kernel-trees``).  A file a tree lacks is not checked.

v6.1 and v7.2 are checked against the local trees.  The v6.12 base is 6.12.117 and the local
tree is 6.12.118: its drivers/pci/pci.c and include/linux/pci.h are first turned back into
6.12.117 by taking out the hunks of "PCI: Add enable_device() and disable_device() callbacks for
bridges" (listed in Debian's 6.12.118 changelog); the test fails if the tree does not have
exactly those hunks where expected.  quirks.c (the other 118 change, "Skip Target Speed quirk on
clamped ports with no link", 4 lines inside pcie_failed_link_retrain at line 83) is checked with
the cited 117 line shifted by those 4 lines, not reconstructed.
"""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path

import pytest

from pcilock.kernel import load_all
from pcilock.kernel._model import REGISTRY
from pcilock.patches import PATCHES

TREES = Path(os.environ.get("PCILOCK_KERNEL_TREES", "/tmp/k"))
ROOT = {"v6.1": TREES / "6.1/linux-source-6.1", "v6.12": TREES / "6.12/linux-source-6.12",
        "v7.2": TREES / "7.2/linux-source-7.2"}

pytestmark = pytest.mark.skipif(not all(p.is_dir() for p in ROOT.values()), reason="kernel trees not present")


def _pci_c_6_12_117(lines):
    """6.12.118 drivers/pci/pci.c without the enable_device()/disable_device() callback commit."""
    at = {i + 1: line for i, line in enumerate(lines)}
    assert at[2093].startswith("static int pci_host_bridge_enable_device(")
    assert at[2107].startswith("static void pci_host_bridge_disable_device(")
    assert at[2114] == "" and at[2115].startswith("static int do_pci_enable_device(")
    assert at[2130].strip() == "err = pci_host_bridge_enable_device(dev);" and at[2133] == ""
    assert at[2136].strip() == "goto err_enable;"
    assert at[2152] == "err_enable:" and at[2153].strip() == "pci_host_bridge_disable_device(dev);"
    assert at[2340].strip() == "pci_host_bridge_disable_device(dev);" and at[2341] == ""
    drop = set(range(2093, 2115)) | set(range(2130, 2134)) | set(range(2151, 2157)) | {2340, 2341}
    out = []
    for n, line in at.items():
        if n in drop:
            continue
        out.append(line.replace("goto err_enable;", "return err;") if n == 2136 else line)
    return out


def _pci_h_6_12_117(lines):
    assert "int (*enable_device)" in lines[604] and "void (*disable_device)" in lines[605]
    return lines[:604] + lines[606:]


# local 6.12.118 file -> (first line after which 118 has extra lines, how many)
SHIFT_6_12_118 = {"drivers/pci/quirks.c": (83, 4)}
_cache = {}


def _source(version, path):
    key = (version, path)
    if key not in _cache:
        f = ROOT[version] / path
        lines = f.read_text(errors="replace").split("\n") if f.exists() else None
        if lines is not None and version == "v6.12":
            if path == "drivers/pci/pci.c":
                lines = _pci_c_6_12_117(lines)
            elif path == "include/linux/pci.h":
                lines = _pci_h_6_12_117(lines)
        _cache[key] = lines
    return _cache[key]


def _citations():
    load_all()
    out = []
    for name, variants in sorted(REGISTRY.items()):
        for cit, fn in variants:
            out.append((name, cit, inspect.getsourcefile(fn)))
    for pid in sorted(PATCHES):
        for side in ("before", "after"):
            for name, variants in sorted(getattr(PATCHES[pid], side).items()):
                for _versions, fn in variants:
                    out.append((name, fn.__mirrors__, inspect.getsourcefile(fn)))
    return out


def test_cited_lines_start_the_named_function():
    bad = []
    checked = 0
    for name, cit, src in _citations():
        for version, line in cit.lines.items():
            if line is None:
                continue
            lines = _source(version, cit.path)
            if lines is None:
                continue  # a file not extracted in the local trees
            shift = SHIFT_6_12_118.get(cit.path) if version == "v6.12" else None
            if shift and line > shift[0]:
                line += shift[1]
            # the line where the definition starts: the name there, or on the next line
            window = " ".join(lines[line - 1:line + 1])
            if not re.search(r"\b" + re.escape(name) + r"\b", window):
                bad.append(f"{os.path.basename(src)}: {name} {version} {cit.path}:{line}")
            checked += 1
    assert checked > 600
    assert not bad, "\n".join(bad)

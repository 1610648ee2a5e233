"""The scenario catalogue: the ``.toml`` files shipped with pcilock.

The repository's top-level ``scenarios/`` directory is installed as the
package data directory ``pcilock/catalogue`` (``pyproject.toml``
force-include); from a checkout (``pip install -e .``) it is read in place.
The environment variable ``PCILOCK_CATALOGUE`` names another directory to use
instead (for a maintainer editing ``scenarios/`` under a non-editable install:
``PCILOCK_CATALOGUE=scenarios pcilock matrix``).
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

from .parse import ScenarioError, parse_scenario_file


def catalogue_dir():
    """The directory holding the catalogue's scenario files.

    :return: :class:`~pathlib.Path` (it may not exist in a broken install)
    :raises ScenarioError: if ``PCILOCK_CATALOGUE`` names no directory
    """
    env = os.environ.get("PCILOCK_CATALOGUE")
    if env:
        d = Path(env)
        if not d.is_dir():
            raise ScenarioError(env, 0, "PCILOCK_CATALOGUE is not a directory")
        return d
    installed = importlib.resources.files("pcilock") / "catalogue"
    if installed.is_dir():
        return Path(str(installed))
    return Path(__file__).resolve().parents[3] / "scenarios"


def _files(directory):
    d = Path(directory) if directory is not None else catalogue_dir()
    return sorted(d.glob("*.toml")) if d.is_dir() else []


def list_catalogue(directory=None):
    """Every catalogue scenario, parsed, sorted by id.

    :param directory: the catalogue directory (default :func:`catalogue_dir`)
    :raises ScenarioError: if a file is bad or two files share an id
    """
    seen = {}
    for f in _files(directory):
        sc = parse_scenario_file(f)
        if sc.id in seen:
            raise ScenarioError(f, 0, f"scenario id {sc.id!r} is also the id of {seen[sc.id].path}")
        seen[sc.id] = sc
    return [seen[k] for k in sorted(seen)]


def resolve(name_or_path, directory=None):
    """The scenario file *name_or_path* names: an existing file, else a catalogue id.

    :return: :class:`~pathlib.Path` of the file
    :raises ScenarioError: if it is neither
    """
    p = Path(name_or_path)
    if p.is_file():
        return p
    name = str(name_or_path)
    files = _files(directory)
    for f in files:
        if f.stem == name:
            return f
    for f in files:  # a file whose id = "..." differs from its name
        try:
            if parse_scenario_file(f).id == name:
                return f
        except ScenarioError:
            continue
    raise ScenarioError(name, 0, f"no such scenario file or catalogue id: {name!r} "
                                 "(pcilock list shows the catalogue)")

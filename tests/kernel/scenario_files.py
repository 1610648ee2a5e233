"""Test helper shared by the kernel-model tests: a scenario file written from an inline body."""

from __future__ import annotations

import textwrap

from pcilock.scenarios.parse import load_scenario


def scenario(tmp_path, body, name="t"):
    """Write *body* (TOML, indented as in the test) under an ``id``/``title`` header and load it."""
    p = tmp_path / f"{name}.toml"
    p.write_text(f'id = "{name}"\ntitle = "{name}"\n' + textwrap.dedent(body))
    return load_scenario(p)

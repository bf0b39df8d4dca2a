"""The repository's licence and what the README says about the packages it serves: the
project is Apache-2.0, and every frontend, template and docs package that requirements.txt
pins (with the split template packages it pulls in) is named in the README's licence
section with the licence its installed metadata declares."""

from __future__ import annotations

import re
from fnmatch import fnmatch
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVED = ("comfyui-frontend-package", "comfyui-workflow-templates", "comfyui-embedded-docs")


def licence_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Licence\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, "README.md has no '## Licence' section"
    return " ".join(match.group(1).split())


def declared_licence(dist: metadata.Distribution) -> str | None:
    """The licence a package declares (License-Expression, else License), or None."""
    return dist.metadata.get("License-Expression") or dist.metadata.get("License")


def test_the_project_is_apache_2():
    head = (ROOT / "LICENSE").read_text(encoding="utf-8")[:400]
    assert "Apache License" in head and "Version 2.0" in head
    assert "Apache License 2.0" in licence_section()


def test_readme_names_each_served_package_and_its_licence():
    section = licence_section()
    pinned = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    for name in SERVED:
        assert re.search(rf"^{name}==", pinned, re.M), f"requirements.txt does not pin {name}"
        assert f"`{name}`" in section, f"README's licence section does not name {name}"
    installed = [d for d in metadata.distributions()
                 if (d.metadata["Name"] or "").lower().replace("_", "-").startswith(SERVED)]
    if not installed:
        pytest.skip("the frontend packages are not installed (bash scripts/setup.sh)")
    for dist in installed:
        name = dist.metadata["Name"].lower().replace("_", "-")
        licence = declared_licence(dist)
        if name.startswith("comfyui-workflow-templates-"):  # a split package: named by suffix
            suffix = name.removeprefix("comfyui-workflow-templates")
            assert any(fnmatch(suffix, s) for s in re.findall(r"`(-[a-z*-]+)`", section)), name
        if licence:
            # the licence follows the package's (or its family's) name in the same sentence
            family = next(s for s in SERVED if name.startswith(s))
            after = section.split(f"`{family}`", 1)[1].split(")", 1)[0]
            assert licence in after, f"{name} declares {licence}; README says: {after!r}"

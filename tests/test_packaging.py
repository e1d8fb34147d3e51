"""The distribution: metadata, extras, license, and an sdist that is the whole project.

The sdist is built in place with setuptools' PEP 517 backend (no isolated environment, about
a second); the ``dev`` extra installs the setuptools it needs (77 or newer, for ``license``
as an SPDX expression).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tomllib
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_license_is_mit_as_an_spdx_expression_with_its_file() -> None:
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 The ollama-core developers" in text
    assert not any(c.startswith("License ::") for c in PROJECT["classifiers"])
    requires = PYPROJECT["build-system"]["requires"]
    assert requires == ["setuptools>=77"]


def test_classifiers_name_the_tested_pythons() -> None:
    versions = {c.rsplit(" ", 1)[1] for c in PROJECT["classifiers"]
                if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)}
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    matrix = re.search(r"^MATRIX \?= (.+)$", makefile, re.M)
    assert matrix is not None
    minimum = PROJECT["requires-python"].removeprefix(">=")
    assert versions == {minimum, *matrix.group(1).split()} == {"3.11", "3.12", "3.13"}


def test_every_extra_installs_something_and_the_readme_lists_them() -> None:
    extras = PROJECT["optional-dependencies"]
    assert all(extras.values()), [name for name, deps in extras.items() if not deps]
    names = {name: {re.split(r"[<>=!~ \[]", dep, maxsplit=1)[0] for dep in deps}
             for name, deps in extras.items()}
    assert {"pytest", "pytest-asyncio"} <= names["test"]
    # full brings every plugin extra, dev everything the tests import
    plugin_extras = set(extras) - {"full", "test", "dev"}
    assert set().union(*(names[e] for e in plugin_extras)) <= names["full"]
    assert names["full"] | names["test"] <= names["dev"]
    install = README.split("## Install\n", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `(\w+)` \|", install, re.M))
    assert listed == set(extras)
    assert 'pip install "ollama-core[full]"' in install
    # the Makefile's install still names extras that exist
    assert '".[dev,full]"' in (ROOT / "Makefile").read_text(encoding="utf-8")


def test_readme_speaks_of_the_project_and_names_things_as_the_code_does() -> None:
    assert "crate" not in README.lower()
    assert "`push_blob(data)`" in README


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], str]:
    out = tmp_path_factory.mktemp("sdist")
    code = ("import sys; from setuptools import build_meta; "
            "print(build_meta.build_sdist(sys.argv[1]))")
    done = subprocess.run([sys.executable, "-c", code, str(out)], cwd=ROOT, text=True,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "SetuptoolsDeprecationWarning" not in done.stderr, done.stderr[-3000:]
    name = done.stdout.strip().splitlines()[-1]
    with tarfile.open(out / name) as tar:
        top = name.removesuffix(".tar.gz") + "/"
        files = [m.name.removeprefix(top) for m in tar.getmembers() if m.isfile()]
        member = tar.extractfile(top + "PKG-INFO")
        assert member is not None
        pkg_info = member.read().decode()
    return files, pkg_info


def _project_files(folder: str) -> set[str]:
    """What the sdist must hold of ``folder``: its source and data files, no caches."""
    skip = {"__pycache__", ".mypy_cache", ".pytest_cache"}
    return {str(p.relative_to(ROOT)) for p in (ROOT / folder).rglob("*")
            if p.is_file() and not skip & set(p.parts) and ".egg-info" not in str(p)
            and p.suffix not in {".pyc", ".pyo"}}


def test_the_sdist_holds_the_whole_project(sdist: tuple[list[str], str]) -> None:
    files = set(sdist[0])
    for name in ("LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml", "MANIFEST.in",
                 "Makefile", "ollama_core/py.typed", "plugins/py.typed"):
        assert name in files, name
    for folder in ("tests", "examples", "ollama_core", "plugins"):
        missing = _project_files(folder) - files
        assert not missing, sorted(missing)[:10]
    assert not [f for f in files if "__pycache__" in f or "mypy_cache" in f]


def test_the_sdist_metadata(sdist: tuple[list[str], str]) -> None:
    meta = Parser().parsestr(sdist[1])
    assert meta["License-Expression"] == "MIT"
    assert meta["License-File"] == "LICENSE"
    assert "Programming Language :: Python :: 3.13" in meta.get_all("Classifier")
    assert set(meta.get_all("Provides-Extra")) == {
        name.replace("_", "-") for name in PROJECT["optional-dependencies"]}

"""An installed ablate (a wheel, not this checkout's src/) finds its own data files: the
study schema and the report's templates are package data, found through the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package built as a wheel from the files git tracks, installed into a folder."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src_copy"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "pyproject.toml", "README.md", "src"],
        cwd=ROOT,
        capture_output=True,
    )
    if listed.returncode == 0:  # a checkout: what git tracks, nothing generated
        names = [n.decode() for n in listed.stdout.split(b"\0") if n]
    else:  # an unpacked copy without .git: the files themselves, caches aside
        names = ["pyproject.toml", "README.md"]
        names += [
            str(p.relative_to(ROOT))
            for p in (ROOT / "src").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and ".egg-info" not in str(p)
        ]
    for name in names:
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    build = [*PIP, "wheel", "--no-deps", "--no-build-isolation", str(src), "-w", str(tmp)]
    subprocess.run(build, check=True)
    (wheel,) = tmp.glob("ablate-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "ablate/study/config.schema.yaml" in names
    assert "ablate/report/templates/page.html.j2" in names
    site = tmp / "site"
    subprocess.run([*PIP, "install", "--no-deps", "--target", str(site), str(wheel)], check=True)
    return site


def test_the_installed_package_validates_a_study_with_its_own_schema(installed, tmp_path):
    code = (
        "import ablate, ablate.study.schema as s; from pathlib import Path; "
        "print(Path(ablate.__file__).resolve()); "
        "print(s.schema_errors({'study': 'x', 'seeds': [0], 'bogus': 1}))"
    )
    env = os.environ | {"PYTHONPATH": str(installed)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    where, errors = done.stdout.splitlines()
    assert Path(where).is_relative_to(installed.resolve())  # not this checkout's src/
    assert "bogus" in errors and "base" in errors  # unknown key named, required one missing

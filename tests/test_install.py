"""One lock from laptop to image: uv.lock matches pyproject.toml, and every pin of uv and of
the build backend (which the lock does not cover) says the same version."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from uv import find_uv_bin

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CLIENT = tomllib.loads((ROOT / "clients/python/pyproject.toml").read_text())
LOCK = tomllib.loads((ROOT / "uv.lock").read_text())


def locked(name: str) -> str:
    return next(p["version"] for p in LOCK["package"] if p["name"] == name)


def test_the_lock_agrees_with_pyproject() -> None:
    # What `make lint` runs; offline: a lock that is current needs no index to say so.
    check = subprocess.run(
        [find_uv_bin(), "lock", "--check", "--offline", "--project", str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def test_every_pin_of_uv_is_the_locked_one() -> None:
    version = locked("uv")
    makefile = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    dockerfile = re.findall(r"\buv==(\S+)", (ROOT / "Dockerfile").read_text())
    assert makefile is not None
    assert makefile.group(1) == version
    assert dockerfile == [version]
    assert f"uv=={version}" in PYPROJECT["dependency-groups"]["dev"]


def test_the_build_backend_is_pinned_exactly_and_alike() -> None:
    ours = PYPROJECT["build-system"]["requires"]
    assert ours == CLIENT["build-system"]["requires"]
    assert len(ours) == 1
    assert re.fullmatch(r"setuptools==[\d.]+", ours[0])


def test_the_image_and_the_makefile_install_from_the_lock_only() -> None:
    for name in ("Dockerfile", "Makefile"):
        text = (ROOT / name).read_text()
        # pip fetches uv itself, nothing else; every install is a frozen sync.
        assert re.findall(r"pip install[^\n]*\\?\n?[^\n]*?uv==", text), name
        assert text.count("pip install") == 1, name
        syncs = re.findall(r"\buv\b.*? sync\b[^\n]*|SYNC = [^\n]*", text)
        assert syncs, name
        assert all("--frozen" in s for s in syncs), syncs
    assert all(
        "--no-dev" in s for s in re.findall(r"uv sync[^\n]*", (ROOT / "Dockerfile").read_text())
    )
    assert PYPROJECT["tool"]["uv"]["python-downloads"] == "never"

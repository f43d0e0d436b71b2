"""One lock from laptop to image: uv.lock matches pyproject.toml, and every pin of uv and of
the build backend (which the lock does not cover) says the same version."""

from __future__ import annotations

import re
import subprocess
import sys
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
    assert makefile is not None
    assert makefile.group(1) == version
    assert f"uv=={version}" in PYPROJECT["dependency-groups"]["dev"]
    # The image takes uv's version and wheel hashes from uv.lock itself: no pin of its own.
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert not re.search(r"\buv==\d", dockerfile)
    assert "pip install --quiet --require-hashes -r uv.txt" in dockerfile


def test_the_image_reads_uv_and_its_hashes_from_the_lock() -> None:
    """The Dockerfile's own line, run here on the real lock: a pip requirement for the
    locked uv with every wheel's hash."""
    line = next(
        line for line in (ROOT / "Dockerfile").read_text().splitlines() if "import tomllib" in line
    )
    code = re.search(r'python3 -c "(.*?)" > uv\.txt', line)
    assert code is not None
    ran = subprocess.run(
        [sys.executable, "-c", code.group(1)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    requirement, *hashes = ran.stdout.split()
    uv = next(p for p in LOCK["package"] if p["name"] == "uv")
    assert requirement == f"uv=={uv['version']}"
    assert hashes == [f"--hash={w['hash']}" for w in uv["wheels"]]
    assert len(hashes) > 5  # every platform's wheel


def test_the_build_backend_is_pinned_exactly_and_alike() -> None:
    ours = PYPROJECT["build-system"]["requires"]
    assert ours == CLIENT["build-system"]["requires"]
    assert len(ours) == 1
    assert re.fullmatch(r"setuptools==[\d.]+", ours[0])


def test_the_image_and_the_makefile_install_from_the_lock_only() -> None:
    for name in ("Dockerfile", "Makefile"):
        text = (ROOT / name).read_text()
        # pip fetches uv itself, nothing else; every install is a frozen sync.
        assert text.count("pip install") == 1, name
        syncs = re.findall(r"\buv\b.*? sync\b[^\n]*|SYNC = [^\n]*", text)
        assert syncs, name
        assert all("--frozen" in s for s in syncs), syncs
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert all("--no-dev" in s for s in re.findall(r"uv sync[^\n]*", dockerfile))
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"pip install (?:[^\n]|\\\n)*?uv==\$\(UV_VERSION\)", makefile)
    assert PYPROJECT["tool"]["uv"]["python-downloads"] == "never"

"""The client's generated layer is what openapi/openapi.json generates now: regenerated into
a temporary directory with the pinned generator and settings, it matches file for file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients/python"
GENERATED = CLIENT / "media_gateway_client/_api"


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_the_generated_client_has_not_drifted_from_the_document(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    generator = shutil.which("openapi-python-client", path=str(bin_dir))
    if generator is None:
        pytest.skip("openapi-python-client is not installed (make install-dev installs it)")
    out = tmp_path / "_api"
    generated = subprocess.run(
        [
            generator, "generate", "--path", str(ROOT / "openapi/openapi.json"), "--meta",
            "none", "--config", str(CLIENT / "generator.yaml"), "--output-path", str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
    )  # fmt: skip
    assert generated.returncode == 0, generated.stdout + generated.stderr
    fresh, committed = tree(out), tree(GENERATED)
    drifted = sorted(
        name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name)
    )
    assert drifted == [], f"run `make openapi`: {drifted[:10]}"

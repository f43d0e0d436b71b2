"""The layout rules the README states that no linter checks: module size."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400
# The product's code; tests and the bench script are read as tables of cases and steps. The
# client's generated layer (make openapi) is exempt; its hand-written modules are not.
PACKAGES = ("gateway", "providers", "simulators", "clients/python/media_gateway_client")
GENERATED = ROOT / "clients/python/media_gateway_client/_api"
MODULES = sorted(
    p
    for package in PACKAGES
    for p in (ROOT / package).rglob("*.py")
    if not p.is_relative_to(GENERATED)
)


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_over_400_lines(module: Path) -> None:
    lines = len(module.read_text().splitlines())
    assert lines <= MAX_LINES, f"{module.relative_to(ROOT)} has {lines} lines; split it by role"


def test_the_rule_sees_the_modules() -> None:
    assert len(MODULES) > 40

"""The checks every send meets before anything goes upstream (most are exercised through
/send-media in tests/gateway/web)."""

from __future__ import annotations

from gateway.pipeline.checks import shorten_filename


def test_long_names_are_shortened_keeping_the_extension() -> None:
    assert shorten_filename("a" * 300 + ".png") == "a" * 251 + ".png"
    assert shorten_filename("short.png") == "short.png"
    assert len(shorten_filename("a." + "b" * 300)) == 255

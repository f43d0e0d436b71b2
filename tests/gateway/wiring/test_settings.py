"""The gateway's settings: read from GATEWAY_*, refused in one line that names the variable."""

from __future__ import annotations

import pytest

from gateway.wiring.settings import Settings, StartupError, get_settings


def test_defaults() -> None:
    settings = Settings(_env_file=None)
    assert settings.max_upload_bytes == 100 * 1024 * 1024
    assert settings.log_level == "INFO"
    assert settings.api_keys == []


def test_keys_are_split_and_trimmed_and_the_level_is_case_insensitive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_API_KEYS", " first-key-0123456789 ,, second-key-0123456789 ")
    monkeypatch.setenv("GATEWAY_LOG_LEVEL", "warning")
    settings = get_settings()
    assert [k.get_secret_value() for k in settings.api_keys] == [
        "first-key-0123456789",
        "second-key-0123456789",
    ]
    assert settings.log_level == "WARNING"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        (
            {"GATEWAY_UPSTREAM_TIMEOUT_S": "0"},
            "GATEWAY_UPSTREAM_TIMEOUT_S: Input should be greater than 0",
        ),
        (
            {"GATEWAY_MAX_UPLOAD_BYTES": "lots"},
            "GATEWAY_MAX_UPLOAD_BYTES: Input should be a valid integer",
        ),
        (
            {"GATEWAY_API_KEYS": "short-secret"},
            "GATEWAY_API_KEYS: every key must be at least 16",
        ),
        (
            {"GATEWAY_FETCH_ALLOW_PRIVATE": "perhaps"},
            "GATEWAY_FETCH_ALLOW_PRIVATE: must be true, false, or networks in CIDR form",
        ),
    ],
)
def test_a_bad_value_names_the_variable_never_the_value(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(StartupError) as caught:
        get_settings()
    assert str(caught.value).startswith(named)
    assert "\n" not in str(caught.value)
    for value in env.values():
        if len(value) > 3:  # "0" is in any sentence with a number
            assert value not in str(caught.value)

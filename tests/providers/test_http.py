"""The shared mapping covers every status class and every httpx transport error."""

from __future__ import annotations

import httpx
import pytest

from providers import errors as pe
from providers.http import parse_retry_after, status_error, transport_error


def all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | all_subclasses(sub)
    return found


TRANSPORT_ERRORS = sorted(all_subclasses(httpx.TransportError) | {httpx.TransportError}, key=str)


@pytest.mark.parametrize("exc_type", TRANSPORT_ERRORS, ids=lambda t: t.__name__)
def test_every_transport_error_maps_to_a_transient_error(exc_type: type[Exception]) -> None:
    error = transport_error(exc_type("boom"), provider="p", stage=pe.Stage.UPLOAD)
    assert isinstance(error, pe.TransientProviderError)
    assert error.retryable
    assert error.provider == "p"
    assert error.stage is pe.Stage.UPLOAD
    assert error.status is None


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("refused"), pe.ProviderUnavailableError),
        (httpx.ConnectTimeout("slow connect"), pe.ProviderUnavailableError),
        (httpx.PoolTimeout("pool"), pe.ProviderUnavailableError),
        (httpx.ReadTimeout("slow"), pe.ProviderTimeoutError),
        (httpx.WriteTimeout("slow"), pe.ProviderTimeoutError),
        (httpx.RemoteProtocolError("garbage"), pe.ProviderFailedError),
        (httpx.ReadError("reset"), pe.ProviderFailedError),
        (httpx.UnsupportedProtocol("gopher"), pe.ProviderUnavailableError),
        (httpx.DecodingError("gzip"), pe.ProviderFailedError),
    ],
)
def test_transport_error_kinds(exc: httpx.HTTPError, expected: type[pe.ProviderError]) -> None:
    assert type(transport_error(exc, provider="p", stage=pe.Stage.POST)) is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        *[(s, pe.ProviderFailedError) for s in (100, 200, 204, 301, 302, 304)],
        (400, pe.ProviderRejectedError),
        (401, pe.ProviderAuthError),
        (403, pe.ProviderAuthError),
        (404, pe.ProviderRejectedError),
        (409, pe.ProviderRejectedError),
        (413, pe.MediaTooLargeError),
        (415, pe.MediaRejectedError),
        (422, pe.ProviderRejectedError),
        (429, pe.RateLimitedError),
        (451, pe.ProviderRejectedError),
        *[(s, pe.ProviderFailedError) for s in (500, 502, 503, 504, 599)],
    ],
)
def test_every_status_class_maps(status: int, expected: type[pe.ProviderError]) -> None:
    assert status_error(status) is expected


def test_permanent_and_transient_split() -> None:
    for kind in (pe.ProviderRejectedError, pe.ProviderAuthError, pe.MediaRejectedError):
        assert not kind.retryable
    for kind in (pe.RateLimitedError, pe.ProviderFailedError, pe.ProviderTimeoutError):
        assert kind.retryable


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7),
        (" 0 ", 0),
        (None, None),
        ("", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0),
    ],
)
def test_retry_after(value: str | None, seconds: int | None) -> None:
    assert parse_retry_after(value) == seconds

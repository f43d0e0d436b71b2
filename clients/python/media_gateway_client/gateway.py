"""`MediaGateway`: the gateway's operations under plain method names, over the generated
client (`media_gateway_client._api`, regenerated from openapi/openapi.json by `make
openapi`), with the two things callers otherwise get wrong: a send carries an
Idempotency-Key and is retried only when the gateway says it may be (`retryable`), with the
same key; and every failure is a typed error (`media_gateway_client.errors`)."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO, TypeVar

import httpx

from media_gateway_client._api.api.media import providers as providers_op
from media_gateway_client._api.api.messages import get_message as get_message_op
from media_gateway_client._api.api.operations import readiness as readiness_op
from media_gateway_client._api.client import AuthenticatedClient
from media_gateway_client._api.models.message_response import MessageResponse
from media_gateway_client._api.models.problem import Problem
from media_gateway_client._api.models.providers_map import ProvidersMap
from media_gateway_client._api.models.send_media_response import SendMediaResponse
from media_gateway_client.errors import GatewayError, GatewayUnreachableError, error_for

T = TypeVar("T")

# A file to send: (name, bytes or an open binary file, MIME type or None).
FileToSend = tuple[str, bytes | BinaryIO, str | None]


class MediaGateway:
    """One gateway, for one client key (`X-API-Key`; None for a gateway without keys,
    as `make run` starts it). A context manager; or call `close()`."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 120.0,
        max_attempts: int = 4,
        max_wait_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        headers = {"X-API-Key": api_key} if api_key else {}
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout)
        self._api = AuthenticatedClient(base_url=base_url, token="").set_httpx_client(self._http)
        self._max_attempts = max_attempts
        self._max_wait_s = max_wait_s
        self._sleep = sleep

    def __enter__(self) -> MediaGateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def send_files(
        self,
        provider: str,
        files: Sequence[FileToSend],
        *,
        idempotency_key: str | None = None,
        **fields: str,
    ) -> SendMediaResponse:
        """Send files (two or more images to Kaizala make an album); `fields` are the
        other form fields: `group_id`, `app_id`, `to`, `caption`, `media_type`… With no
        `idempotency_key` one is made, and kept for every retry of this call."""
        form = [
            (k, (None, v.encode(), "text/plain"))
            for k, v in {"provider": provider, **fields}.items()
        ]
        # The files last: the gateway sends a large file on while it arrives only then.
        parts = form + [("file", (name, data, mime)) for name, data, mime in files]
        return self._send({"files": parts}, idempotency_key)

    def send_url(
        self, provider: str, url: str, *, idempotency_key: str | None = None, **fields: str
    ) -> SendMediaResponse:
        """Send media by reference (a JSON body); as `send_files` otherwise."""
        return self._send({"json": {"provider": provider, "url": url, **fields}}, idempotency_key)

    def message(self, message_id: str) -> MessageResponse:
        """A message's delivery status (a Gupshup send with `to` made it)."""
        response = get_message_op.sync_detailed(message_id, client=self._api)
        return _answer(response.parsed, response, MessageResponse)

    def providers(self) -> ProvidersMap:
        """What each provider takes: media types, MIME types, sizes, target fields."""
        response = providers_op.sync_detailed(client=self._api)
        return _answer(response.parsed, response, ProvidersMap)

    def ready(self) -> bool:
        """Whether the gateway answers /readyz with 200."""
        return readiness_op.sync_detailed(client=self._api).status_code == 200

    def _send(self, content: dict[str, Any], key: str | None) -> SendMediaResponse:
        key = key or uuid.uuid4().hex
        for attempt in range(1, self._max_attempts + 1):
            try:
                response = self._http.post(
                    "/send-media", headers={"Idempotency-Key": key}, **content
                )
            except httpx.TransportError as exc:  # no answer: the same key makes a retry safe
                if attempt == self._max_attempts:
                    raise GatewayUnreachableError(str(exc) or type(exc).__name__) from exc
                self._sleep(self._backoff(attempt, None))
                continue
            if response.status_code == 200:
                return SendMediaResponse.from_dict(response.json())
            error = _error(response)
            if not error.retryable or attempt == self._max_attempts:
                raise error
            self._sleep(self._backoff(attempt, error.retry_after))
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Retry-After when the gateway gave one, else 0.5 s doubling, with jitter."""
        if retry_after is not None:
            return min(retry_after, self._max_wait_s)
        return min(0.5 * 2.0 ** (attempt - 1) * random.uniform(0.8, 1.2), self._max_wait_s)  # noqa: S311


def _error(response: httpx.Response) -> GatewayError:
    try:
        problem = Problem.from_dict(response.json())
    except (ValueError, KeyError, TypeError):  # not the gateway's problem document
        problem = Problem(
            type_="about:blank",
            title=response.reason_phrase,
            status=response.status_code,
            detail=response.text[:200],
            code="unexpected_answer",
            retryable=response.status_code in (502, 503, 504),
            request_id=response.headers.get("x-request-id"),
        )
    header = response.headers.get("retry-after", "")
    retry_after = float(header) if header.isdigit() else None
    return error_for(problem, retry_after)


def _answer(parsed: object, response: Any, kind: type[T]) -> T:
    if isinstance(parsed, kind):
        return parsed
    raise _error(
        httpx.Response(response.status_code, headers=response.headers, content=response.content)
    )

"""HTTP plumbing shared by the adapters: one call with a deadline, capped answers, and the
mapping of transport failures and status classes onto the error tree."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from providers.errors import (
    MediaRejectedError,
    MediaTooLargeError,
    ProviderAuthError,
    ProviderError,
    ProviderFailedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitedError,
    Stage,
)

# Answers we read are small JSON documents; a provider that streams more is broken.
MAX_ANSWER_BYTES = 1 << 20
MAX_MESSAGE_CHARS = 500


@dataclass(frozen=True)
class Answer:
    """A provider's complete answer to one call."""

    status: int
    headers: httpx.Headers
    content: bytes

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.content)
        except ValueError:
            return None


@dataclass(frozen=True)
class Token:
    """A credential and the time.time() after which it is renewed before use."""

    value: str
    refresh_at: float


class Redactor:
    """Removes an adapter's secrets (configured and fetched) from text that leaves it."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


class Upstream:
    """Sends one call to a provider under a whole-call deadline and reads its capped answer."""

    def __init__(
        self, client: httpx.AsyncClient, *, provider: str, timeout: float, redact: Redactor
    ) -> None:
        self.client = client
        self.provider = provider
        self.timeout = timeout
        self.redact = redact

    async def send(self, request: httpx.Request, stage: Stage) -> Answer:
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.client.send(request, stream=True)
                try:
                    content = await _read_capped(response)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise ProviderTimeoutError(
                f"{self.provider} gave no complete answer within {self.timeout:g} s",
                provider=self.provider,
                stage=stage,
            ) from None
        except httpx.HTTPError as exc:
            raise transport_error(exc, provider=self.provider, stage=stage) from None
        except _AnswerTooLargeError:
            raise ProviderFailedError(
                f"{self.provider} answered with more than {MAX_ANSWER_BYTES} bytes",
                provider=self.provider,
                stage=stage,
            ) from None
        return Answer(response.status_code, response.headers, content)

    def error(
        self,
        kind: type[ProviderError],
        detail: str,
        answer: Answer,
        stage: Stage,
        message: str | None,
    ) -> ProviderError:
        """Build an error for an answer, with the upstream message redacted and shortened."""
        clean = self.redact(message)[:MAX_MESSAGE_CHARS] if message else None
        retry_after = parse_retry_after(answer.headers.get("retry-after"))
        if kind is RateLimitedError and retry_after is None:
            retry_after = 1
        return kind(
            detail,
            provider=self.provider,
            stage=stage,
            status=answer.status,
            message=clean,
            retry_after=retry_after if kind is RateLimitedError else None,
        )


class _AnswerTooLargeError(Exception):
    pass


async def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise _AnswerTooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def status_error(status: int) -> type[ProviderError]:
    """The error for a failed status when the adapter knows nothing more specific."""
    if status in (401, 403):
        return ProviderAuthError
    if status == 413:
        return MediaTooLargeError
    if status == 415:
        return MediaRejectedError
    if status == 429:
        return RateLimitedError
    if 400 <= status < 500:
        return ProviderRejectedError
    # 5xx, and 1xx/2xx/3xx answers that the call did not expect.
    return ProviderFailedError


def transport_error(exc: httpx.HTTPError, *, provider: str, stage: Stage) -> ProviderError:
    """The error for a call that got no HTTP answer at all."""
    kind: type[ProviderError]
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        kind, what = ProviderUnavailableError, "could not be reached in time"
    elif isinstance(exc, httpx.TimeoutException):
        kind, what = ProviderTimeoutError, "did not answer in time"
    elif isinstance(exc, httpx.ConnectError | httpx.ProxyError | httpx.UnsupportedProtocol):
        kind, what = ProviderUnavailableError, "could not be reached"
    elif isinstance(exc, httpx.ProtocolError | httpx.ReadError | httpx.WriteError):
        kind, what = ProviderFailedError, "broke the connection or the protocol"
    elif isinstance(exc, httpx.NetworkError):
        kind, what = ProviderUnavailableError, "could not be reached"
    else:
        kind, what = ProviderFailedError, "answered with something unreadable"
    return kind(f"{provider} {what} ({type(exc).__name__})", provider=provider, stage=stage)


def parse_retry_after(value: str | None) -> int | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, int((when - datetime.now(UTC)).total_seconds()))


def message_of(body: Any) -> str | None:
    """The human message in a provider's JSON error body, if it has one."""
    if isinstance(body, dict):
        for key in ("message", "Message", "error", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def normalize_base(url: str) -> str:
    """A base URL without trailing slashes, so `{base}/v1/...` never has `//`."""
    return url.strip().rstrip("/")

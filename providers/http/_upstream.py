"""The one choke point of every upstream call: a whole-call deadline, a capped answer, and
the mapping of transport failures and status classes onto the error tree."""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from opentelemetry import trace

from providers.deadline import within
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
from providers.http._answers import (
    MAX_ANSWER_BYTES,
    Answer,
    AnswerEncodingError,
    AnswerTooLargeError,
    read_capped,
)
from providers.redact import Redactor

log = logging.getLogger("providers.http")
# OpenTelemetry's API: its spans are recorded only when the application installed the SDK.
tracer = trace.get_tracer("providers.http")

MAX_MESSAGE_CHARS = 500
# The slowest upload rate a call is given time for, beyond its timeout (1 MiB/s).
UPLOAD_BYTES_PER_S = 1 << 20


@dataclass(frozen=True)
class Call:
    """One upstream call as its observers see it: `result` is the status class ("2xx") or
    what went wrong ("timeout", "unreachable", "error")."""

    provider: str
    stage: Stage
    result: str
    seconds: float
    upload_bytes: int


def ignore_call(call: Call) -> None:
    """The observer of an adapter built without one (tests, tools)."""


class Upstream:
    """Sends one call to a provider under a whole-call deadline and reads its capped answer."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        provider: str,
        timeout: float,
        redact: Redactor,
        observe: Callable[[Call], None] = ignore_call,
        failure: Callable[[Answer, Stage], ProviderError] | None = None,
    ) -> None:
        self.client = client
        self.provider = provider
        self.timeout = timeout
        self.redact = redact
        self.observe = observe
        # How the adapter maps its failed answers onto the error tree (`body`).
        self.failure = failure or self.generic_failure

    async def call(
        self, stage: Stage, build: Callable[[], httpx.Request], *, upload_bytes: int = 0
    ) -> Answer:
        """Build and send one call, and read its answer: the one choke point where every
        exception raised below, of any type, becomes a `ProviderError`.

        A call carrying `upload_bytes` of media gets a second more per MiB, so a large file
        is not cut by a timeout meant for small calls; the request's deadline bounds all."""
        timeout = within(self.timeout + upload_bytes / UPLOAD_BYTES_PER_S)
        started = time.perf_counter()
        result = "error"
        # A span of the stage when the request is traced (nothing to do otherwise).
        traced = trace.get_current_span().is_recording()
        span = tracer.start_span(stage.value) if traced else trace.INVALID_SPAN
        try:
            with trace.use_span(span, end_on_exit=False):
                answer = await self._call(stage, build, seconds=timeout)
            result = f"{answer.status // 100}xx"
            span.set_attribute("http.response.status_code", answer.status)
            if answer.status >= 400:
                span.set_status(trace.StatusCode.ERROR, f"HTTP {answer.status}")
            return answer
        except ProviderError as exc:
            if isinstance(exc, ProviderTimeoutError):
                result = "timeout"
            elif isinstance(exc, ProviderUnavailableError):
                result = "unreachable"
            span.set_status(trace.StatusCode.ERROR, type(exc).__name__)
            raise
        finally:
            if traced:
                span.set_attributes(
                    {
                        "media_gateway.provider": self.provider,
                        "media_gateway.stage": stage.value,
                        "media_gateway.outcome": result,
                    }
                )
                span.end()
            self.observe(
                Call(self.provider, stage, result, time.perf_counter() - started, upload_bytes)
            )

    async def _call(
        self, stage: Stage, build: Callable[[], httpx.Request], *, seconds: float
    ) -> Answer:
        timeout = seconds
        if timeout <= 0:
            raise ProviderTimeoutError(
                f"{self.provider}: the request's deadline was spent before this call",
                provider=self.provider,
                stage=stage,
                request_sent=False,
            )
        try:
            async with asyncio.timeout(timeout):
                request = build()
                # Which call this is, for the client span of a traced request.
                request.extensions["media_gateway.call"] = (self.provider, stage.value)
                response = await self.client.send(request, stream=True)
                try:
                    content = await read_capped(response)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise ProviderTimeoutError(
                f"{self.provider} gave no complete answer within {timeout:g} s",
                provider=self.provider,
                stage=stage,
            ) from None
        except httpx.HTTPError as exc:
            raise transport_error(exc, provider=self.provider, stage=stage) from None
        except AnswerTooLargeError:
            raise ProviderFailedError(
                f"{self.provider} answered with more than {MAX_ANSWER_BYTES} bytes",
                provider=self.provider,
                stage=stage,
            ) from None
        except (AnswerEncodingError, zlib.error):
            raise ProviderFailedError(
                f"{self.provider} answered in an encoding it was not asked for, or broken",
                provider=self.provider,
                stage=stage,
            ) from None
        except Exception as exc:
            # A URL the provider handed us that httpx cannot use, a body that cannot be
            # encoded, a broken transport: never a 500 for the caller, always in the log.
            log.warning(
                "upstream call could not be made",
                extra={"provider": self.provider, "stage": stage.value},
                exc_info=exc,
            )
            raise ProviderFailedError(
                f"{self.provider} could not be called ({type(exc).__name__})",
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
        # Auth servers may echo the credentials they refuse, in any encoding: their text
        # never leaves the gateway; the detail says what failed instead.
        clean = None
        if message and stage is not Stage.AUTH:
            clean = self.redact(message)[:MAX_MESSAGE_CHARS]
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

    def body(self, answer: Answer, stage: Stage) -> dict[str, Any]:
        """The JSON object of a 200 answer; for any other status, the adapter's `failure`
        mapping of it (each adapter maps its failed answers in that one place)."""
        if answer.status != 200:
            raise self.failure(answer, stage)
        body = answer.json()
        if not isinstance(body, dict):
            raise self.unreadable(stage, "answered 200 with a body that is not a JSON object")
        return body

    def generic_failure(self, answer: Answer, stage: Stage) -> ProviderError:
        """A failed answer mapped by its status alone."""
        detail = f"{self.provider} answered {answer.status} at {stage.value}"
        return self.error(
            status_error(answer.status), detail, answer, stage, message_of(answer.json())
        )

    def unreadable(
        self, stage: Stage, what: str, message: str | None = None
    ) -> ProviderFailedError:
        """The error for a 200 answer that lacks what the call needs."""
        if message and stage is not Stage.AUTH:
            message = self.redact(message)[:MAX_MESSAGE_CHARS]
        else:
            message = None
        return ProviderFailedError(
            f"{self.provider} {what}",
            provider=self.provider,
            stage=stage,
            status=200,
            message=message,
        )


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
    """The error for a call that got no HTTP answer at all; a connection that could not be
    opened (or a pool slot never free) sent nothing."""
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
    sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return kind(
        f"{provider} {what} ({type(exc).__name__})",
        provider=provider,
        stage=stage,
        request_sent=sent,
    )


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
    """The human message in a provider's JSON error body, if it has one (also Meta's
    `{"error": {"message": ...}}`)."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    if isinstance(body, dict):
        for key in ("message", "Message", "error", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return None

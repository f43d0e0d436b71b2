"""HTTP plumbing shared by the adapters: one call with a deadline, capped answers, and the
mapping of transport failures and status classes onto the error tree."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import re
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx

from providers.base import LiveBody, MediaFile
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
from providers.redact import Redactor

log = logging.getLogger(__name__)

# Answers we read are small JSON documents; a provider that streams more is broken.
MAX_ANSWER_BYTES = 1 << 20
MAX_MESSAGE_CHARS = 500
# The slowest upload rate a call is given time for, beyond its timeout (1 MiB/s).
UPLOAD_BYTES_PER_S = 1 << 20


@dataclass(frozen=True)
class Answer:
    """A provider's complete answer to one call."""

    status: int
    headers: httpx.Headers
    content: bytes

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON or cannot be read (nested deeper
        than the parser recurses: any exception, so a hostile answer is only unreadable)."""
        try:
            return json.loads(self.content)
        except Exception:
            return None


@dataclass(frozen=True)
class Token:
    """A credential, the time.time() after which it is renewed before use, and what came
    with it (Kaizala's endpoint URL, say)."""

    value: str
    refresh_at: float
    extra: Mapping[str, str] = field(default_factory=dict)


class TokenShare(Protocol):
    """Where replicas share credentials: a cache of tokens, a lock so one replica fetches
    while the others wait, and long-lived secrets a provider replaces (a rotated refresh
    token). Values are stored so that reading the store does not reveal them."""

    async def load(self, name: str) -> Token | None: ...

    async def save(self, name: str, token: Token) -> None: ...

    def lock(self, name: str) -> AbstractAsyncContextManager[None]: ...

    async def load_secret(self, name: str) -> str | None: ...

    async def save_secret(self, name: str, value: str) -> None: ...


class Memo(Protocol):
    """A small key-value store with expiry, shared by the replicas when Redis is there.
    For what is worth remembering but not secret (a media id for some bytes). It never
    raises: a store it cannot reach reads as a miss and forgets what it is given."""

    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, value: str, ttl_s: float) -> None: ...

    async def forget(self, key: str) -> None: ...


class MemoryMemo:
    """A `Memo` in the process, bounded, oldest entries dropped first."""

    def __init__(self, size: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: dict[str, tuple[str, float]] = {}
        self._size = size
        self._clock = clock

    async def get(self, key: str) -> str | None:
        entry = self._entries.get(key)
        if entry is None or entry[1] <= self._clock():
            self._entries.pop(key, None)
            return None
        return entry[0]

    async def put(self, key: str, value: str, ttl_s: float) -> None:
        self._entries.pop(key, None)
        while len(self._entries) >= self._size:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (value, self._clock() + ttl_s)

    async def forget(self, key: str) -> None:
        self._entries.pop(key, None)


def share_nothing(namespace: str, key: str) -> TokenShare | None:
    """Without shared state, each process keeps its own tokens."""
    return None


@dataclass(frozen=True)
class ProviderContext:
    """What the gateway gives an adapter: its HTTP client, the per-call timeout, and, with
    shared state configured, a `TokenShare` per credential (`share(namespace, key)`: the
    key, the provider's own long-lived secret, is what the stored values are sealed with)."""

    client: httpx.AsyncClient
    timeout: float
    share: Callable[[str, str], TokenShare | None] = share_nothing
    memo: Memo = field(default_factory=MemoryMemo)


# The loop time by which the request being served must be answered; None: no deadline.
_deadline: ContextVar[float | None] = ContextVar("deadline", default=None)


@contextmanager
def request_deadline(seconds: float | None) -> Iterator[None]:
    """Bound every upstream call and every wait made inside the block to `seconds` in all."""
    reset = _deadline.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(reset)


def remaining() -> float | None:
    """Seconds left of the current request's deadline, or None when there is none."""
    deadline = _deadline.get()
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def within(timeout: float) -> float:
    """`timeout`, shortened to what is left of the request's deadline."""
    left = remaining()
    return timeout if left is None else min(timeout, left)


@dataclass(frozen=True)
class Call:
    """One upstream call as its observers see it: `result` is the status class ("2xx") or
    what went wrong ("timeout", "unreachable", "error")."""

    provider: str
    stage: Stage
    result: str
    seconds: float
    upload_bytes: int


_observers: list[Callable[[Call], None]] = []


def observe_calls(observer: Callable[[Call], None]) -> Callable[[], None]:
    """Tell `observer` of every upstream call from now on (the gateway's metrics and its
    Server-Timing header); returns what stops it. An observer must not raise."""
    _observers.append(observer)
    return lambda: _observers.remove(observer)


class Upstream:
    """Sends one call to a provider under a whole-call deadline and reads its capped answer."""

    def __init__(
        self, client: httpx.AsyncClient, *, provider: str, timeout: float, redact: Redactor
    ) -> None:
        self.client = client
        self.provider = provider
        self.timeout = timeout
        self.redact = redact

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
        try:
            answer = await self._call(stage, build, seconds=timeout)
            result = f"{answer.status // 100}xx"
            return answer
        except ProviderError as exc:
            if isinstance(exc, ProviderTimeoutError):
                result = "timeout"
            elif isinstance(exc, ProviderUnavailableError):
                result = "unreachable"
            if exc.request_sent is None:
                exc.request_sent = True  # it got as far as sending, unless told otherwise
            raise
        finally:
            call = Call(self.provider, stage, result, time.perf_counter() - started, upload_bytes)
            for observer in _observers:
                observer(call)

    async def _call(
        self, stage: Stage, build: Callable[[], httpx.Request], *, seconds: float
    ) -> Answer:
        timeout = seconds
        if timeout <= 0:
            spent = ProviderTimeoutError(
                f"{self.provider}: the request's deadline was spent before this call",
                provider=self.provider,
                stage=stage,
            )
            spent.request_sent = False
            raise spent
        try:
            async with asyncio.timeout(timeout):
                request = build()
                response = await self.client.send(request, stream=True)
                try:
                    content = await _read_capped(response)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise ProviderTimeoutError(
                f"{self.provider} gave no complete answer within {timeout:g} s",
                provider=self.provider,
                stage=stage,
            ) from None
        except httpx.HTTPError as exc:
            failed = transport_error(exc, provider=self.provider, stage=stage)
            # A connection that could not be opened (or a pool slot never free) sent nothing.
            failed.request_sent = not isinstance(
                exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
            )
            raise failed from None
        except _AnswerTooLargeError:
            raise ProviderFailedError(
                f"{self.provider} answered with more than {MAX_ANSWER_BYTES} bytes",
                provider=self.provider,
                stage=stage,
            ) from None
        except (_AnswerEncodingError, zlib.error):
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

    def json_object(
        self, answer: Answer, stage: Stage, failure: Callable[[Answer, Stage], ProviderError]
    ) -> dict[str, Any]:
        """The JSON object of a 200 answer; for any other status, the adapter's `failure`
        mapping of it (each adapter maps its failed answers in that one place)."""
        if answer.status != 200:
            raise failure(answer, stage)
        body = answer.json()
        if not isinstance(body, dict):
            raise self.unreadable(stage, "answered 200 with a body that is not a JSON object")
        return body

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


def upload_form(name: str, files: Sequence[MediaFile]) -> dict[str, Any]:
    """`httpx.Request` keyword arguments for a multipart upload of `files`, each a part
    called `name`: httpx's own encoding when every file lies in the spool; when one is still
    arriving (`MediaFile.live`), the same parts streamed with their length declared, built
    afresh for each attempt. Headers, if any, are in the "headers" entry."""
    live = [f for f in files if f.live is not None]
    if not live:
        return {"files": [(name, (f.filename, f.stream, f.content_type)) for f in files]}
    if len(files) != 1:
        raise ValueError("a file still arriving is sent alone")
    (media,) = live
    assert media.live is not None
    boundary = os.urandom(16).hex().encode()
    head = b"".join(
        [
            b"--" + boundary + b"\r\nContent-Disposition: form-data; ",
            _form_param("name", name),
            b"; " + _form_param("filename", media.filename) if media.filename else b"",
            b"\r\nContent-Type: " + media.content_type.encode() + b"\r\n\r\n",
        ]
    )
    tail = b"\r\n--" + boundary + b"--\r\n"
    return {
        "content": _LiveForm(head, media.live, tail),
        "headers": {
            "Content-Type": f"multipart/form-data; boundary={boundary.decode()}",
            "Content-Length": str(len(head) + media.live.size + len(tail)),
        },
    }


class _LiveForm:
    """A multipart body around a file still arriving; each iteration is one attempt."""

    def __init__(self, head: bytes, live: LiveBody, tail: bytes) -> None:
        self._head, self._live, self._tail = head, live, tail

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._head
        async for chunk in self._live.chunks():
            yield chunk
        yield self._tail  # only once the file ended as declared: else the upload never ends


# How browsers and httpx write a form parameter (the HTML5 multipart form encoding).
_FORM_ESCAPES = {'"': "%22", "\\": "\\\\"} | {chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}
_FORM_ESCAPE = re.compile("|".join(re.escape(c) for c in _FORM_ESCAPES))


def _form_param(name: str, value: str) -> bytes:
    escaped = _FORM_ESCAPE.sub(lambda m: _FORM_ESCAPES[m.group(0)], value)
    return f'{name}="{escaped}"'.encode()


class _AnswerTooLargeError(Exception):
    pass


class _AnswerEncodingError(Exception):
    pass


# zlib's window bits per Content-Encoding: gzip, and deflate as zlib data (raw deflate, which
# some servers send, is the fallback).
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


async def _read_capped(response: httpx.Response) -> bytes:
    """The answer's bytes, decoded, at most MAX_ANSWER_BYTES of them. The gateway asks for
    `identity`; a provider that compresses anyway is inflated here, never more than the cap
    at a time (httpx's decoders inflate a whole chunk: 500 KB of deflate can be 500 MB)."""
    if response.is_stream_consumed:  # built in memory (a mock transport): read already
        if len(response.content) > MAX_ANSWER_BYTES:
            raise _AnswerTooLargeError
        return response.content
    encoding = response.headers.get("content-encoding", "").strip().lower()
    inflate: Any = None
    if encoding not in ("", "identity"):
        if encoding not in _WBITS:
            raise _AnswerEncodingError
        inflate = zlib.decompressobj(_WBITS[encoding])
    chunks: list[bytes] = []
    size = 0
    async for raw in response.aiter_raw():
        chunk = raw
        if inflate is not None:
            try:
                chunk = inflate.decompress(raw, MAX_ANSWER_BYTES + 1 - size)
            except zlib.error:
                if size or encoding != "deflate" or inflate.unused_data:
                    raise _AnswerEncodingError from None
                inflate = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate
                chunk = inflate.decompress(raw, MAX_ANSWER_BYTES + 1 - size)
            if inflate.unconsumed_tail:
                raise _AnswerTooLargeError
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise _AnswerTooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


# What every adapter's client sends: answers uncompressed (they are small JSON documents).
CLIENT_HEADERS = {"Accept-Encoding": "identity"}


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


def normalize_base(url: str) -> str:
    """A base URL without trailing slashes, so `{base}/v1/...` never has `//`."""
    return url.strip().rstrip("/")


_HOST = re.compile(r"^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?\.?)+$|^[0-9A-Fa-f:.%]+$")


def usable_url(text: object) -> httpx.URL | None:
    """`text` as an http(s) URL with a valid host and port, IDNA-encoded and with a
    percent-encoded path; None when it is not one (never an exception)."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        url = httpx.URL(text.strip())
        port = url.port
        host = url.raw_host.decode("ascii")
    except Exception:  # httpx raises several types for a malformed URL
        return None
    if url.scheme not in ("http", "https") or not host or not _HOST.match(host):
        return None
    if port is not None and not 0 < port < 65536:
        return None
    return url


def checked_base(url: object) -> str | None:
    """`url` as a normalised http(s) base URL, or None when it is not a usable one."""
    parsed = usable_url(url)
    if parsed is None:
        return None
    return normalize_base(str(parsed.copy_with(query=None, fragment=None)))


class TokenCell:
    """One cached credential and the single fetch that renews it.

    Every caller that needs a new token while one is being fetched waits for that same
    fetch and gets its token or its error; a failed fetch is remembered for a short time
    (or as long as a 429 asked), so a failing auth server is not hammered by every
    waiter; and every wait is bounded by the request's deadline.
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Token]],
        *,
        provider: str,
        clock: Callable[[], float] = time.time,
        failure_ttl_s: float = 5.0,
        share: TokenShare | None = None,
        name: str = "token",
    ) -> None:
        self._fetch = fetch
        self._provider = provider
        self._clock = clock
        self._failure_ttl_s = failure_ttl_s
        self._share = share
        self._name = name
        self._refused: str | None = None  # a value the provider refused: never reused
        self._token: Token | None = None
        self._task: asyncio.Task[Token] | None = None
        self._failure: ProviderError | None = None
        self._failure_until = 0.0

    def invalidate(self) -> None:
        """Forget the token, so the next `get` fetches a new one."""
        self._token = None

    async def get(self) -> Token:
        """A token that is not due for renewal, fetching one when needed."""
        token = self._token
        if token is not None and self._clock() < token.refresh_at:
            return token
        return await self._join()

    async def renew(self, stale: Token) -> Token:
        """A token other than `stale`, which the provider refused."""
        token = self._token
        if token is not None and token is not stale and self._clock() < token.refresh_at:
            return token
        self._token = None
        self._refused = stale.value
        return await self._join()

    async def _join(self) -> Token:
        if self._failure is not None and self._clock() < self._failure_until:
            raise copy.copy(self._failure)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
            # A fetch nobody waits for any more must not log "exception never retrieved".
            self._task.add_done_callback(lambda t: t.cancelled() or t.exception())
        left = remaining()
        try:
            async with asyncio.timeout(left):
                # Shielded: a caller that gives up does not cancel the others' fetch.
                return await asyncio.shield(self._task)
        except TimeoutError:
            raise ProviderTimeoutError(
                f"{self._provider} gave no token within the request's deadline",
                provider=self._provider,
                stage=Stage.AUTH,
            ) from None
        except ProviderError as exc:
            # Each waiter gets its own copy: callers add fields to the errors they raise.
            raise copy.copy(exc) from None

    async def _run(self) -> Token:
        # This task runs in a copy of the first caller's context: the fetch serves every
        # waiter, so it is bounded by its own calls' timeouts, not by that caller's deadline.
        _deadline.set(None)
        try:
            token = await self._shared_fetch() if self._share else await self._fetch()
        except ProviderError as exc:
            hold = self._failure_ttl_s
            if isinstance(exc, RateLimitedError) and exc.retry_after:
                hold = min(float(exc.retry_after), 60.0)
            self._failure, self._failure_until = exc, self._clock() + hold
            raise
        finally:
            self._task = None
        self._token, self._failure = token, None
        return token

    def _usable(self, token: Token | None) -> bool:
        return (
            token is not None and token.value != self._refused and self._clock() < token.refresh_at
        )

    async def _shared_fetch(self) -> Token:
        """The token another replica cached, or one fetched under the replicas' lock and
        cached for them. Shared state that fails only costs a fetch of our own."""
        assert self._share is not None
        share, name = self._share, self._name
        try:
            cached = await share.load(name)
            if self._usable(cached):
                assert cached is not None
                return cached
            async with share.lock(name):
                cached = await share.load(name)  # fetched while we waited for the lock?
                if self._usable(cached):
                    assert cached is not None
                    return cached
                token = await self._fetch()
                await share.save(name, token)
                return token
        except ProviderError:
            raise
        except Exception as exc:
            log.warning(
                "shared token store failed; fetching locally",
                extra={"provider": self._provider, "error": type(exc).__name__},
            )
            return await self._fetch()

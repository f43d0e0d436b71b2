"""The transport under the live providers' httpx clients: aiohttp's connection pool.

httpcore's pool costs more CPU per call than the rest of a send and gets slower as calls
overlap (every call walks every pooled connection); aiohttp's pool and C parser do not.
Measured with the same httpx client (bench/README.md): 380 → 770 calls/s on one connection,
210 → 1,230 with 32 at once. The adapters keep the httpx API, and their unit tests keep
respx.

httpx-aiohttp does the same job but maps a dropped connection (after the request was sent)
to `httpx.ConnectTimeout`, which the gateway reads as "nothing was sent": a retry could then
deliver a message twice. Here every aiohttp error maps to the httpx error that tells the
truth about whether the request may have left.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import httpx
from yarl import URL

_CHUNK = 64 * 1024
_SMALL_BODY = 256 * 1024


@contextlib.contextmanager
def _mapped() -> Iterator[None]:
    """aiohttp's errors as the httpx errors that say the same thing, most specific first."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:  # no connection (or pool slot) in time
        raise httpx.ConnectTimeout(str(exc)) from exc
    except aiohttp.ClientProxyConnectionError as exc:
        raise httpx.ProxyError(str(exc)) from exc
    except aiohttp.ClientConnectorError as exc:  # the connection could not be opened
        raise httpx.ConnectError(str(exc)) from exc
    except aiohttp.ServerTimeoutError as exc:  # sent, and the answer did not come in time
        raise httpx.ReadTimeout(str(exc)) from exc
    except aiohttp.ClientPayloadError as exc:
        raise httpx.ReadError(str(exc)) from exc
    except aiohttp.ServerDisconnectedError as exc:
        raise httpx.RemoteProtocolError(str(exc)) from exc
    except aiohttp.ClientResponseError as exc:  # not HTTP, or malformed
        raise httpx.RemoteProtocolError(str(exc)) from exc
    except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
        raise httpx.UnsupportedProtocol(str(exc)) from exc
    except aiohttp.ClientError as exc:  # any other broken connection: it may have been sent
        raise httpx.ReadError(str(exc)) from exc


class _NoCookies(httpx.Cookies):
    """Cookies that are never kept nor sent."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None


_NO_COOKIES = _NoCookies()


class CookielessClient(httpx.AsyncClient):
    """The live providers' client, which keeps no cookies: one caller's send must not carry
    a cookie an upstream set during another's. httpx reads every answer for cookies even
    into a jar that keeps none, building a urllib request and response for it: 40 µs of a
    Gupshup send's 1.5 ms of CPU (bench/README.md)."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        if cookies:
            raise ValueError("the live providers' clients keep no cookies")


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped():
            async for chunk in self._response.content.iter_chunked(_CHUNK):
                yield chunk

    async def aclose(self) -> None:
        # Back to the pool when the answer was read to its end; closed otherwise.
        self._response.release()


async def _read_small(response: aiohttp.ClientResponse) -> bytes:
    try:
        with _mapped():
            return await response.read()
    finally:
        response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over one aiohttp session, created on first use inside the running loop."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._limits.max_connections or 0,
            keepalive_timeout=self._limits.keepalive_expiry or 0,
            ssl=httpx.create_ssl_context(),
        )
        # No cookie jar: an upstream's cookie must not ride along on another caller's send.
        return aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._session is None:
            self._session = self._open()
        timeout = request.extensions.get("timeout", {})
        data: Any
        try:
            data = request.content or None
        except httpx.RequestNotRead:  # a streamed body (a spooled upload): sent as it is read
            length = request.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) <= _SMALL_BODY:
                data = await request.aread()  # small: one write, no writer task
            else:
                data = request.stream
        with _mapped():
            response = await self._session.request(
                request.method,
                URL(str(request.url), encoded=True),  # exactly as built: %40 stays %40
                headers=[
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
                ],
                data=data,
                allow_redirects=False,
                compress=False,
                skip_auto_headers=("Content-Type",),
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            )
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("latin-1", "replace")
        stream: httpx.AsyncByteStream = _Body(response)
        if response.content_length is not None and response.content_length <= _CHUNK:
            # A provider's usual answer, a small JSON document: read at once, and the
            # connection back to the pool, instead of a stream of one chunk.
            stream = httpx.ByteStream(await _read_small(response))
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=stream,
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

"""The live providers' transport (aiohttp under httpx) against real sockets on loopback: what
it sends, and above all the httpx error each failure becomes, since the gateway decides from
it whether a call may have been sent (and so whether a retry could deliver twice)."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from gateway.wiring.transport import AiohttpTransport, CookielessClient
from providers.errors import ProviderError, Stage
from providers.http import Upstream
from providers.redact import Redactor

pytestmark = pytest.mark.anyio

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, await reader.readexactly(length)


class Peer:
    """A raw HTTP peer: each connection is given to `handler`; what arrived is kept."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[tuple[bytes, bytes]] = []
        self.connections = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[tuple[Peer, str]]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> tuple[Peer, str]:
        peer = Peer(handler)
        server = await asyncio.start_server(peer, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return peer, f"http://127.0.0.1:{port}"

    yield start
    for server in servers:
        server.close()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=10, max_keepalive_connections=10)
    async with CookielessClient(transport=AiohttpTransport(limits), timeout=2) as c:
        yield c


async def test_requests_go_out_as_built_and_connections_are_reused(
    serve: Callable[[Handler], Awaitable[tuple[Peer, str]]], client: httpx.AsyncClient
) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            peer.requests.append(await read_request(reader))
            writer.write(OK)
            await writer.drain()

    peer, base = await serve(answer)
    payload = bytes(range(256)) * 4000  # a file object: streamed, not held whole by httpx
    first = await client.post(
        f"{base}/v1/groups/team%40one/actions", files={"files": ("a.bin", io.BytesIO(payload))}
    )
    second = await client.post(f"{base}/v1/media", json={"n": 1})
    assert (first.status_code, first.json(), second.status_code) == (200, {}, 200)
    (head, body), (head2, body2) = peer.requests
    assert head.startswith(b"POST /v1/groups/team%40one/actions HTTP/1.1\r\n")  # %40 kept
    assert b"transfer-encoding" not in head.lower()
    assert payload in body
    assert body2 == b'{"n":1}'
    assert b"content-type: application/json" in head2.lower()
    assert peer.connections == 1


async def test_a_cookie_an_upstream_sets_is_never_sent_back(
    serve: Callable[[Handler], Awaitable[tuple[Peer, str]]], client: httpx.AsyncClient
) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            peer.requests.append(await read_request(reader))
            writer.write(
                b"HTTP/1.1 200 OK\r\nSet-Cookie: session=caller-a; Path=/\r\n"
                b"Content-Length: 2\r\n\r\n{}"
            )
            await writer.drain()

    peer, base = await serve(answer)
    await client.get(f"{base}/a")
    await client.get(f"{base}/b")
    assert all(b"cookie:" not in head.lower() for head, _ in peer.requests)
    assert len(peer.requests) == 2
    assert not client.cookies
    with pytest.raises(ValueError, match="no cookies"):
        client.cookies = {"session": "caller-a"}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def upstream(client: httpx.AsyncClient) -> Upstream:
    return Upstream(client, provider="vendor", timeout=2, redact=Redactor())


async def test_a_refused_connection_is_a_connect_error_and_was_not_sent(
    client: httpx.AsyncClient,
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/"
    with pytest.raises(httpx.ConnectError):
        await client.get(url)
    with pytest.raises(ProviderError) as failed:
        await upstream(client).call(Stage.POST, lambda: client.build_request("POST", url))
    assert failed.value.request_sent is False


async def _hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)  # the request arrived whole; no answer


async def _half_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"half')
    await writer.drain()


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
    await writer.drain()


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    await asyncio.sleep(10)


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (_hang_up, httpx.RemoteProtocolError),
        (_half_body, httpx.ReadError),
        (_garbage, httpx.RemoteProtocolError),
        (_silent, httpx.ReadTimeout),
    ],
    ids=["hang-up", "half-body", "not-http", "silent"],
)
async def test_failures_after_the_request_left_never_say_it_was_not_sent(
    serve: Callable[[Handler], Awaitable[tuple[Peer, str]]],
    handler: Handler,
    error: type[httpx.HTTPError],
) -> None:
    _, base = await serve(handler)
    limits = httpx.Limits(max_connections=10)
    timeout = httpx.Timeout(2, read=0.5)
    async with httpx.AsyncClient(transport=AiohttpTransport(limits), timeout=timeout) as client:
        with pytest.raises(error) as caught:
            await client.post(f"{base}/x", json={})  # reads the whole answer
        assert not isinstance(caught.value, httpx.ConnectError | httpx.ConnectTimeout)
        # And the choke point, given the same failure, says the call may have been sent.
        with pytest.raises(ProviderError) as failed:
            await upstream(client).call(
                Stage.POST, lambda: client.build_request("POST", f"{base}/x", json={})
            )
        assert failed.value.request_sent is True

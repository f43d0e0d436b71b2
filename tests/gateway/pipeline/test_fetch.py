"""URL downloads: internal addresses refused on every hop, limits, failures."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gateway.errors import SpoolUnavailableError, UrlFetchFailedError, UrlNotAllowedError
from gateway.pipeline import fetch
from gateway.pipeline.fetch import (
    PRIVATE_NETWORKS,
    Download,
    Fetcher,
    address_allowed,
    fetch_policy,
)
from gateway.pipeline.spool import Chunk
from gateway.wiring.settings import Settings
from tests import samples

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("127.9.9.9", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:10.0.0.1", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        # IPv6 forms that carry an internal IPv4 address inside them.
        ("::7f00:1", False),  # IPv4-compatible 127.0.0.1
        ("::ffff:0:7f00:1", False),  # SIIT-translated 127.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("64:ff9b:1::a9fe:a9fe", False),  # local-use NAT64 of 169.254.169.254
        ("2002:a9fe:a9fe::", False),  # 6to4 of 169.254.169.254
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo client 127.0.0.1
        ("fec0::1", False),  # deprecated site-local
        ("64:ff9b::808:808", True),  # NAT64 of a public address stays allowed
        ("2002:808:808::1", True),  # 6to4 of a public address
    ],
)
def test_address_policy(address: str, allowed: bool) -> None:
    assert address_allowed(address) is allowed


LIVE = samples.mp4() + bytes(range(256)) * 12_000  # about 3 MB


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        port = self.server.server_address[1]
        routes = {
            "/photo.png": lambda: self._send(200, samples.png(), "image/png"),
            "/big": lambda: self._send(200, b"x" * 50_000, "application/octet-stream"),
            "/missing": lambda: self._send(404, b"no", "text/plain"),
            "/to-photo": lambda: self._redirect("/photo.png"),
            "/to-other-host": lambda: self._redirect(f"http://127.0.0.2:{port}/photo.png"),
            "/to-ftp": lambda: self._redirect("ftp://127.0.0.1/x"),
            "/to-unicode": lambda: self._redirect("/b\u00fccher/photo.png"),
            "/to-bad-port": lambda: self._redirect("http://127.0.0.1:99999/photo.png"),
            "/to-broken": lambda: self._redirect("http://[::1/photo.png"),
            "/empty": lambda: self._send(200, b"", "image/png"),
            "/loop": lambda: self._redirect("/loop"),
            "/slow": self._slow,
            "/live": lambda: self._send(200, LIVE, "video/mp4"),
            "/short": self._short,
        }
        routes.get(self.path, lambda: self._send(404, b"", "text/plain"))()

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _short(self) -> None:  # declares more than it sends, then closes
        self.send_response(200)
        self.send_header("Content-Length", str(len(LIVE)))
        self.end_headers()
        self.wfile.write(LIVE[: len(LIVE) // 2])
        self.close_connection = True

    def _slow(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        for _ in range(100):
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(0.05)


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    server = ThreadingHTTPServer(("0.0.0.0", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def fetcher(**overrides: object) -> Fetcher:
    options: dict[str, object] = {
        "allowed": fetch_policy(PRIVATE_NETWORKS),
        "timeout": 5.0,
        "max_redirects": 3,
    }
    options.update(overrides)
    return Fetcher(**options)  # type: ignore[arg-type]


def whole(f: Fetcher, url: str, *, limit: int = 10_000) -> AbstractAsyncContextManager[Download]:
    """The URL's file read whole, for the block (as a send by url that does not stream)."""
    return f.opened(url, limit=limit, stream_from=None)


async def test_download_with_redirect(origin: str) -> None:
    f = fetcher()
    async with whole(f, f"{origin}/to-photo") as download:
        assert download.live is None
        assert download.file.read() == samples.png()
    assert (download.filename, download.content_type, download.size) == (
        "photo.png",
        "image/png",
        len(samples.png()),
    )
    await f.aclose()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_loopback_is_refused_by_default(origin: str, host: str) -> None:
    f = fetcher(allowed=address_allowed)
    url = origin.replace("127.0.0.1", host) + "/photo.png"
    with pytest.raises(UrlNotAllowedError):
        async with whole(f, url):
            pass
    await f.aclose()


async def test_every_redirect_hop_is_checked(origin: str) -> None:
    # The first host is allowed; the redirect's host is not, so the second hop is refused.
    f = fetcher(allowed=lambda address: address == "127.0.0.1")
    async with whole(f, f"{origin}/photo.png") as download:
        assert download.file.read() == samples.png()
    with pytest.raises(UrlNotAllowedError) as refused:
        async with whole(f, f"{origin}/to-other-host"):
            pass
    # The resolved address is never told: it would let anyone map internal DNS names.
    assert "127.0.0.2" not in str(refused.value)
    await f.aclose()


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        ("/missing", UrlFetchFailedError, "HTTP 404"),
        ("/big", UrlFetchFailedError, "over the limit"),
        ("/loop", UrlFetchFailedError, "redirected more than 3"),
        ("/to-ftp", UrlNotAllowedError, "http and https"),
        ("/to-bad-port", UrlFetchFailedError, "not a valid URL"),
        ("/to-broken", UrlFetchFailedError, "not a valid URL"),
        ("/empty", UrlFetchFailedError, "empty"),
        ("/slow", UrlFetchFailedError, "within 0.5 s"),
    ],
)
async def test_failures(origin: str, path: str, error: type[Exception], message: str) -> None:
    f = fetcher(timeout=0.5)
    with pytest.raises(error, match=message):
        async with whole(f, f"{origin}{path}"):
            pass
    await f.aclose()


async def test_unreachable_server() -> None:
    f = fetcher()
    with pytest.raises(UrlFetchFailedError, match="could not be reached"):
        async with whole(f, "http://127.0.0.1:9/photo.png"):
            pass
    await f.aclose()


async def test_a_non_ascii_redirect_is_followed_encoded(origin: str) -> None:
    f = fetcher()
    # The handler answers 404 for the encoded path; what matters is that the hop was made
    # as a valid request (http.server would have refused raw non-ASCII) and mapped.
    with pytest.raises(UrlFetchFailedError, match="HTTP 404"):
        async with whole(f, f"{origin}/to-unicode"):
            pass
    await f.aclose()


@pytest.mark.parametrize(
    ("setting", "address", "allowed"),
    [
        ("true", "127.0.0.1", True),
        ("true", "10.1.2.3", True),
        ("true", "fd12::1", True),
        ("true", "8.8.8.8", True),
        # Whatever the setting says: link-local, metadata, unspecified.
        ("true", "169.254.169.254", False),
        ("true", "fe80::1", False),
        ("true", "fd00:ec2::254", False),
        ("true", "0.0.0.0", False),
        ("true", "::", False),
        ("true", "224.0.0.1", False),
        ("0.0.0.0/0,::/0", "169.254.169.254", False),
        ("0.0.0.0/0,::/0", "::ffff:169.254.169.254", False),
        ("0.0.0.0/0,::/0", "0.0.0.0", False),
        ("0.0.0.0/0,::/0", "10.9.9.9", True),
        # A list allows what it names, and nothing else that is not public.
        ("10.20.0.0/16", "10.20.3.4", True),
        ("10.20.0.0/16", "10.21.3.4", False),
        ("10.20.0.0/16", "127.0.0.1", False),
        ("false", "127.0.0.1", False),
        ("", "10.1.2.3", False),
    ],
)
def test_allow_private_is_a_list_of_networks_that_never_opens_metadata(
    setting: str, address: str, allowed: bool
) -> None:
    networks = Settings(_env_file=None, fetch_allow_private=setting).fetch_allow_private
    assert fetch_policy(networks)(address) is allowed


async def test_a_full_spool_disk_is_not_ready_not_a_500(
    origin: str, monkeypatch: pytest.MonkeyPatch, guarded: Fetcher
) -> None:
    class FullDisk(fetch.Spool):
        def write_all(self, chunks: Sequence[Chunk]) -> int:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(fetch, "Spool", FullDisk)
    with pytest.raises(SpoolUnavailableError, match="cannot spool downloads"):
        async with whole(guarded, f"{origin}/big", limit=100_000):
            pass


@pytest.fixture
async def guarded() -> AsyncIterator[Fetcher]:
    f = fetcher()
    yield f
    await f.aclose()


async def test_a_download_declared_large_enough_arrives_while_it_is_read(
    origin: str, guarded: Fetcher
) -> None:
    """Sent on as it arrives: its first bytes read for sniffing, the rest given as asked,
    then (a resend) the whole again from the spool."""
    async with guarded.opened(f"{origin}/live", limit=10_000_000, stream_from=1_000_000) as d:
        assert d.live is not None
        assert (d.size, d.filename, d.content_type) == (len(LIVE), "live", "video/mp4")
        assert d.live.head == LIVE[: len(d.live.head)]
        assert len(d.live.head) >= 4096
        first = b"".join([bytes(c) async for c in d.live.chunks()])
        again = b"".join([bytes(c) async for c in d.live.chunks()])
        assert first == again == LIVE


async def test_a_download_below_the_streaming_size_is_read_whole(
    origin: str, guarded: Fetcher
) -> None:
    async with guarded.opened(f"{origin}/live", limit=10_000_000, stream_from=len(LIVE) + 1) as d:
        assert d.live is None
        assert d.file.read() == LIVE


async def test_without_streaming_a_download_of_any_size_is_read_whole(
    origin: str, guarded: Fetcher
) -> None:
    # A provider whose uploads do not stream (or a send that must not) reads it whole.
    async with guarded.opened(f"{origin}/live", limit=10_000_000, stream_from=None) as d:
        assert d.live is None
        assert d.file.read() == LIVE


async def test_a_download_that_breaks_off_fails_its_pass_as_the_urls_fault(
    origin: str, guarded: Fetcher
) -> None:
    async with guarded.opened(f"{origin}/short", limit=10_000_000, stream_from=1_000) as d:
        assert d.live is not None
        with pytest.raises(UrlFetchFailedError, match=r"broke off|bytes"):
            async for _ in d.live.chunks():
                pass
        assert d.live.broke_off
        with pytest.raises(UrlFetchFailedError):  # a resend fails the same way
            async for _ in d.live.chunks():
                pass


async def test_a_live_download_past_the_fetch_time_fails(origin: str) -> None:
    """The fetch's time covers the whole download, the part read while it is sent on too
    (here its first 100 bytes, read for sniffing, already take longer)."""
    f = fetcher(timeout=0.5)
    opened = f.opened(f"{origin}/slow", limit=1000, stream_from=10)
    with pytest.raises(UrlFetchFailedError, match=r"within 0\.5 s"):
        await opened.__aenter__()
    await f.aclose()

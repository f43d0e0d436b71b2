"""Downloads a caller's URL safely: streaming, capped, under a deadline, and never to an
internal address (every connection's resolved address is checked, so every redirect is)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp
import aiohttp.abc
import yarl

from gateway.errors import SpoolUnavailableError, UrlFetchFailedError, UrlNotAllowedError
from gateway.pipeline.downloading import LiveDownload
from gateway.pipeline.spool import IN_MEMORY, Spool
from providers.deadline import within
from providers.http import usable_url

log = logging.getLogger("gateway.fetch")

REDIRECTS = frozenset({301, 302, 303, 307, 308})
# The most a read of a download hands on at once.
READ_BYTES = 1024 * 1024
USER_AGENT = "media-gateway/0.1 (+url fetch)"


class BlockedAddressError(OSError):
    """A connection would have gone to an address the gateway does not fetch from."""


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: mapped (::ffff:a.b.c.d), translated
    (::ffff:0:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64, 6to4 and Teredo."""
    found: list[ipaddress.IPv4Address] = []
    value = int(ip)
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if value >> 32 == 0xFFFF0000:  # ::ffff:0:0/96, SIIT translated
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if ip in _IPV4_COMPATIBLE or any(ip in net for net in _NAT64):
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found += list(ip.teredo)
    return found


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _with_carried(address: str) -> list[Address]:
    """The address (its zone dropped) and every IPv4 address it carries inside it."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        return [ip, *embedded_ipv4(ip)]
    return [ip]


def _public(addresses: list[Address]) -> bool:
    ip = addresses[0]
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return False  # fec0::/10, deprecated but still routed inside some networks
    return all(c.is_global and not c.is_multicast for c in addresses)


def address_allowed(address: str) -> bool:
    """Whether an IP address is a public, unicast one, and so is every IPv4 address that
    it carries inside it."""
    return _public(_with_carried(address))


Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# What GATEWAY_FETCH_ALLOW_PRIVATE=true allows: loopback and the private ranges.
PRIVATE_NETWORKS: tuple[Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
        "100.64.0.0/10", "fc00::/7",
    )
)  # fmt: skip
# Never fetched from, whatever GATEWAY_FETCH_ALLOW_PRIVATE says: link-local (where clouds
# serve their metadata and credentials), the metadata addresses outside it, unspecified
# ("this host"), multicast and broadcast.
ALWAYS_REFUSED: tuple[Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "100.100.100.200/32",
        "0.0.0.0/8", "::/128", "224.0.0.0/4", "ff00::/8", "255.255.255.255/32",
    )
)  # fmt: skip


def fetch_policy(allow: Iterable[Network] = ()) -> Callable[[str], bool]:
    """Public unicast addresses, and those in `allow` (GATEWAY_FETCH_ALLOW_PRIVATE) unless
    they, or an IPv4 address they carry, are in ALWAYS_REFUSED."""
    extra = tuple(allow)

    def allowed(address: str) -> bool:
        addresses = _with_carried(address)
        if any(a in net for a in addresses for net in ALWAYS_REFUSED if a.version == net.version):
            return False
        ip = addresses[0]
        return _public(addresses) or any(ip in net for net in extra if ip.version == net.version)

    return allowed


class GuardedResolver(aiohttp.abc.AbstractResolver):
    """Resolves a host itself and refuses it when any of its addresses is not allowed: the
    connection is then made to a checked address (aiohttp connects to what it resolves)."""

    def __init__(self, allowed: Callable[[str], bool]) -> None:
        self._allowed = allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, family=family
        )
        for info in infos:
            if not self._allowed(str(info[4][0])):
                # The address itself is never told: it would map internal DNS names.
                raise BlockedAddressError(f"{host} resolves to an address that is not public")
        return [
            {
                "hostname": host,
                "host": str(info[4][0]),
                "port": int(info[4][1]),
                "family": info[0],
                "proto": info[2],
                "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            }
            for info in infos
        ]

    async def close(self) -> None:
        pass


@dataclass
class Download:
    """A downloaded URL, spooled to memory then disk, for the block of `Fetcher.opened`.
    With `live`, it is still arriving (`size` is the declared length): send it from
    `live.chunks()`."""

    file: Spool
    filename: str
    content_type: str | None
    size: int
    live: LiveDownload | None = None


class Fetcher:
    """Downloads URLs through one guarded connection pool (aiohttp's: its C parser reads a
    download at a fifth of the CPU httpcore's pure-Python one took, bench/README.md)."""

    def __init__(
        self, *, allowed: Callable[[str], bool], timeout: float, max_redirects: int
    ) -> None:
        self._allowed = allowed
        self._timeout = timeout
        self._max_redirects = max_redirects
        self._session: aiohttp.ClientSession | None = None  # made on the loop, when first used

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self._allowed), limit=50, use_dns_cache=False
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # The bytes as served (a download is never decoded: no bombs), no cookies,
                # no proxy from the environment.
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                skip_auto_headers=("Accept-Encoding",),
            )
        return self._session

    @contextlib.asynccontextmanager
    async def opened(
        self, url: str, *, limit: int, stream_from: int | None
    ) -> AsyncIterator[Download]:
        """The URL's file for the block: read whole (always, with `stream_from` None), or,
        when its server declares a length of at least `stream_from` bytes, live
        (`Download.live`, its first bytes read): the rest arrives while it is sent on,
        within the fetch's time."""
        check_scheme(url)
        deadline = asyncio.get_running_loop().time() + within(self._timeout)
        async with contextlib.AsyncExitStack() as hops:
            try:
                async with asyncio.timeout_at(deadline):
                    response, url = await self._open(url, limit, hops)
                    declared = response.headers.get("Content-Length") or ""
                    if (
                        stream_from is not None
                        and declared.isdigit()
                        and int(declared) >= stream_from
                    ):
                        live = LiveDownload(
                            response.content.iter_chunked(READ_BYTES),
                            int(declared),
                            deadline=deadline,
                            mapped=self._fetch_error,
                        )
                        hops.push_async_callback(live.aclose)
                        await live.fill_head()
                        download = Download(
                            live.spool,
                            _filename(url),
                            response.headers.get("Content-Type"),
                            live.size,
                            live,
                        )
                    else:
                        spool = Spool(in_memory=IN_MEMORY)
                        hops.callback(spool.close)
                        download = await _read_whole(response, url, spool, limit)
            except BaseException as exc:
                raise self._mapped(exc) from None
            yield download

    def _mapped(self, exc: BaseException) -> BaseException:
        if isinstance(exc, UrlFetchFailedError | UrlNotAllowedError):
            return exc
        mapped = self._fetch_error(exc)
        return exc if mapped is None else mapped

    def _fetch_error(self, exc: BaseException) -> Exception | None:
        """The gateway error for a failed download, or None for one that is not ours to map."""
        cause = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
        if isinstance(cause, BlockedAddressError):
            return UrlNotAllowedError(
                "The URL's host resolves to an internal address (private, loopback, "
                "link-local or otherwise not public); the gateway does not fetch from those."
            )
        if isinstance(exc, aiohttp.ServerTimeoutError | aiohttp.ConnectionTimeoutError):
            return UrlFetchFailedError("The URL's server did not answer in time.")
        if isinstance(exc, TimeoutError):
            return UrlFetchFailedError(f"The URL did not download within {self._timeout:g} s.")
        if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.InvalidURL):
            return UrlFetchFailedError(
                f"The URL's server could not be reached ({type(exc).__name__})."
            )
        if isinstance(exc, aiohttp.ClientError):
            return UrlFetchFailedError(f"The download broke off ({type(exc).__name__}).")
        if isinstance(exc, OSError):  # the spool's disk is full or gone, not the URL's fault
            log.error("a download could not be spooled", exc_info=exc)
            return SpoolUnavailableError(
                "This replica cannot spool downloads (its temporary directory is full or not "
                "writable); send again, another replica takes it."
            )
        return None

    async def _open(
        self, url: str, limit: int, hops: contextlib.AsyncExitStack
    ) -> tuple[aiohttp.ClientResponse, str]:
        """The answer of 200 at the end of the URL's redirects (its body not read yet, its
        connection released with `hops`), and its URL."""
        headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
        timeout = aiohttp.ClientTimeout(sock_connect=self._timeout, sock_read=self._timeout)
        for _ in range(self._max_redirects + 1):
            target = yarl.URL(url, encoded=True)
            self._check_literal(target.raw_host or "")
            async with contextlib.AsyncExitStack() as hop:
                response = await hop.enter_async_context(
                    self._client().get(
                        target, headers=headers, timeout=timeout, allow_redirects=False
                    )
                )
                location = _text(response.headers.get("Location"))
                if response.status in REDIRECTS and location:
                    url = next_hop(url, location)
                    continue
                if response.status != 200:
                    raise UrlFetchFailedError(f"The URL answered HTTP {response.status}.")
                declared_length = response.headers.get("Content-Length")
                if declared_length and declared_length.isdigit() and int(declared_length) > limit:
                    raise UrlFetchFailedError(f"The URL's file is over the limit of {limit} bytes.")
                hops.push_async_exit(hop.pop_all())
                return response, url
        raise UrlFetchFailedError(f"The URL redirected more than {self._max_redirects} times.")

    def _check_literal(self, host: str) -> None:
        """A host given as an address is connected to without resolving: checked here."""
        try:
            ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
        except ValueError:
            return  # a name: its addresses are checked by GuardedResolver
        if not self._allowed(host.strip("[]")):
            raise BlockedAddressError(f"{host} is not a public address")


async def _read_whole(
    response: aiohttp.ClientResponse, url: str, spool: Spool, limit: int
) -> Download:
    size = 0
    async for chunk in response.content.iter_chunked(READ_BYTES):
        size += len(chunk)
        if size > limit:
            raise UrlFetchFailedError(f"The URL's file is over the limit of {limit} bytes.")
        spool.write(chunk)
    if size == 0:
        raise UrlFetchFailedError("The URL's file is empty (0 bytes).")
    spool.seek(0)
    return Download(
        file=spool,
        filename=_filename(url),
        content_type=response.headers.get("Content-Type"),
        size=size,
    )


def check_scheme(url: str) -> None:
    if usable_url(url) is None:
        raise UrlNotAllowedError("Only http and https URLs with a valid host are fetched.")


def next_hop(url: str, location: str) -> str:
    """Where a redirect leads, as one plain-ASCII URL (IDNA host, percent-encoded path)."""
    try:
        target = urljoin(url, location.strip())
    except ValueError:
        target = ""
    if urlsplit(target).scheme.lower() not in ("http", "https", ""):
        raise UrlNotAllowedError("The URL redirected to a scheme other than http and https.")
    parsed = usable_url(target)
    if parsed is None:
        raise UrlFetchFailedError("The URL redirected to a Location that is not a valid URL.")
    return str(parsed)


def _text(value: str | None) -> str | None:
    """A header's value as its bytes were meant: aiohttp reads them as UTF-8, keeping any
    other byte as a surrogate; those are read as Latin-1 (as HTTP has it)."""
    if value is None:
        return None
    raw = value.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _filename(url: str) -> str:
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    return name.replace("\\", "_").replace('"', "_") or "download"

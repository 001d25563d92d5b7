"""Fetch a small text file over HTTP(S) from a forge, safely: the proof-of-authority fetcher.

The URL is built from configuration and from names an owner typed, so the fetch is treated as
untrusted: only ``http``/``https``; the host is resolved once and refused if any of its
addresses is private, loopback, link-local, multicast, reserved or otherwise not global
(unless ``allow_private``); the connection then goes to the address that was checked (so a
DNS answer that changes between check and connect cannot move it to an internal address),
with TLS still verifying the certificate of the host name; redirects are followed by hand, at
most ``MAX_REDIRECTS``, and only to the same host; the body is streamed and cut at
``max_bytes``; and the whole fetch has a deadline. Proxies and ``.netrc`` from the
environment are ignored (``trust_env`` off), since a proxy would resolve names itself.

Every failure is a ``FetchError`` with a stable ``code``.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

MAX_REDIRECTS = 3
CHUNK = 8192
USER_AGENT = "optout-proof-fetcher/1"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class FetchError(Exception):
    """A fetch that failed, with a stable ``code`` and, for HTTP errors, the ``status``."""

    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def is_public_address(value: str) -> bool:
    """Tell whether an IP address is globally routable (IPv4 embedded in IPv6 included)."""
    ip = ipaddress.ip_address(value.split("%", 1)[0])  # drop an IPv6 zone id
    embedded = []
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = [ip.ipv4_mapped, ip.sixtofour, ip.teredo and ip.teredo[1]]
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if any(inner is not None and not is_public_address(str(inner)) for inner in embedded):
        return False
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def _resolve(host: str, port: int) -> list[str]:
    """Return every address ``host`` resolves to, in the resolver's order of preference."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _checked_address(host: str, port: int, allow_private: bool) -> str:
    try:
        addresses = _resolve(host, port)
    except (OSError, UnicodeError) as error:
        raise FetchError("fetch_failed", f"cannot resolve {host}: {error}") from None
    if not addresses:
        raise FetchError("fetch_failed", f"{host} has no address")
    if not allow_private:
        refused = [a for a in addresses if not is_public_address(a)]
        if refused:
            raise FetchError(
                "fetch_private_address",
                f"{host} resolves to a private, loopback or link-local address ({refused[0]}); "
                "the fetcher does not go there",
            )
    return addresses[0]


class _PinnedAdapter(HTTPAdapter):
    """Connect to a fixed address while TLS sends and verifies the original host name."""

    def __init__(self, hostname: str):
        self._hostname = hostname
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["server_hostname"] = self._hostname
        kwargs["assert_hostname"] = self._hostname
        super().init_poolmanager(*args, **kwargs)


def _split(url: str):
    try:
        parts = urlsplit(url)
        parts.hostname  # noqa: B018  (a malformed bracketed host raises only here)
    except ValueError:
        raise FetchError("fetch_failed", f"{url!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise FetchError("fetch_failed", f"only http and https URLs are fetched, not {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchError("fetch_failed", f"{url!r} has an invalid port") from None
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise FetchError("fetch_failed", f"{url!r} has no host, or carries credentials")
    try:
        host = parts.hostname.encode("idna").decode("ascii")  # for DNS, Host and SNI alike
    except UnicodeError:
        raise FetchError("fetch_failed", f"{url!r} has an invalid host name") from None
    return parts, host, port


def _get_once(
    session: requests.Session, url: str, timeout: float, allow_private: bool, verify
) -> requests.Response:
    """Send one GET (no redirects) to the checked address of the URL's host; stream the body."""
    parts, host, port = _split(url)
    address = _checked_address(host, port, allow_private)
    literal = f"[{address}]" if ":" in address else address
    pinned = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
    default_port = port == (443 if parts.scheme == "https" else 80)
    named = f"[{host}]" if ":" in host else host
    session.mount(f"{parts.scheme}://", _PinnedAdapter(host))
    try:
        return session.get(
            pinned,
            headers={
                "Host": named if default_port else f"{named}:{port}",
                "User-Agent": USER_AGENT,
                "Accept-Encoding": "identity",  # the size cap counts the bytes sent
            },
            timeout=(timeout, timeout),
            allow_redirects=False,
            stream=True,
            verify=verify,
        )
    except requests.Timeout:
        raise FetchError("fetch_timeout", f"{host} did not answer within {timeout:g} s") from None
    except requests.RequestException as error:
        raise FetchError("fetch_failed", f"cannot fetch from {host}: {_short(error)}") from None
    except ValueError:  # requests parses a redirect's Location even when not following it
        raise FetchError("fetch_redirect_refused",
                         f"{url} redirects to an invalid address") from None


def _short(error: Exception) -> str:
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__


def _follow(url: str, resp: requests.Response) -> str:
    """Return the redirect target, if it stays on the same host (and is not a downgrade)."""
    location = resp.headers.get("Location")
    resp.close()
    if not location:
        raise FetchError("fetch_redirect_refused", f"{url} redirects without a Location")
    try:
        target = urljoin(url, location)
        old, new = urlsplit(url), urlsplit(target)
        new_host, old_host = (new.hostname or "").lower(), (old.hostname or "").lower()
    except ValueError:  # "Location: http://[::1/x" is no address at all
        raise FetchError("fetch_redirect_refused",
                         f"{url} redirects to an invalid address") from None
    if new_host != old_host:
        raise FetchError(
            "fetch_redirect_refused", f"{url} redirects to another host ({new.hostname}); refused"
        )
    if old.scheme == "https" and new.scheme != "https":
        raise FetchError("fetch_redirect_refused", f"{url} redirects from https to {new.scheme}")
    return target


def _read_capped(resp: requests.Response, max_bytes: int, deadline: float, url: str) -> bytes:
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError("fetch_too_large", f"{url} is {declared} bytes; the limit is {max_bytes}")
    body = bytearray()
    try:
        while chunk := resp.raw.read1(CHUNK, decode_content=False):  # whatever has arrived
            body += chunk
            if len(body) > max_bytes:
                raise FetchError("fetch_too_large", f"{url} is larger than {max_bytes} bytes")
            if time.monotonic() > deadline:
                raise FetchError("fetch_timeout", f"{url} took too long to send")
    except urllib3.exceptions.ReadTimeoutError:
        raise FetchError("fetch_timeout", f"{url} stopped sending") from None
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise FetchError("fetch_failed", f"reading {url} failed: {_short(error)}") from None
    return bytes(body)


def fetch_text(
    url: str,
    *,
    timeout: float = 10.0,
    max_bytes: int = 65536,
    allow_private: bool = False,
    verify: bool | str = True,
) -> str:
    """Fetch ``url`` and return its body as text (UTF-8, undecodable bytes replaced).

    ``timeout`` bounds each connect and read and also the whole fetch, redirects included.
    ``verify`` is passed to requests: True, or the path of a CA bundle.

    Raises:
        FetchError: ``fetch_private_address``, ``fetch_timeout``, ``fetch_too_large``,
            ``fetch_redirect_refused``, ``fetch_http_error`` (with ``status``) or
            ``fetch_failed``.
    """
    deadline = time.monotonic() + timeout
    for _hop in range(MAX_REDIRECTS + 1):
        with requests.Session() as session:
            session.trust_env = False
            left = max(deadline - time.monotonic(), 0.001)
            with _get_once(session, url, left, allow_private, verify) as resp:
                if 300 <= resp.status_code < 400:
                    url = _follow(url, resp)
                    if time.monotonic() > deadline:
                        raise FetchError("fetch_timeout", f"{url}: redirects took too long")
                    continue
                if not 200 <= resp.status_code < 300:
                    raise FetchError(
                        "fetch_http_error", f"{url} answered {resp.status_code}", resp.status_code
                    )
                body = _read_capped(resp, max_bytes, deadline, url)
        return body.decode("utf-8", errors="replace")
    raise FetchError("fetch_redirect_refused", f"more than {MAX_REDIRECTS} redirects")

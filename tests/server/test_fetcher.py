"""The proof fetcher against real HTTP(S) servers on loopback: limits, redirects, addresses."""

from __future__ import annotations

import socket
import time

import pytest

from server import fetcher
from server.fetcher import FetchError, fetch_text, is_public_address
from tests.server.forge import running_forge, self_signed


@pytest.fixture
def forge():
    with running_forge() as running:
        yield running


def fetch(url, **options):
    options = {"timeout": 2.0, "max_bytes": 1000, "allow_private": True, **options}
    return fetch_text(url, **options)


def refused(url, code, **options) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch(url, **options)
    assert caught.value.code == code, caught.value.message
    return caught.value


def test_fetches_a_file(forge):
    forge.put("/a/b.txt", "héllo\n")
    assert fetch(forge.url + "/a/b.txt") == "héllo\n"
    assert forge.hits == [("/a/b.txt", f"127.0.0.1:{forge.port}")]


def test_http_errors_carry_the_status(forge):
    error = refused(forge.url + "/missing", "fetch_http_error")
    assert error.status == 404
    forge.put("/boom", "no", status=500)
    assert refused(forge.url + "/boom", "fetch_http_error").status == 500


@pytest.mark.parametrize("content_length", [True, False], ids=["declared", "streamed"])
def test_size_cap(forge, content_length):
    forge.put("/exact", b"x" * 1000, content_length=content_length)
    forge.put("/big", b"x" * 1001, content_length=content_length)
    assert len(fetch(forge.url + "/exact")) == 1000
    refused(forge.url + "/big", "fetch_too_large")


def test_a_silent_server_times_out(forge):
    forge.put("/slow", "late", delay=3)
    started = time.monotonic()
    refused(forge.url + "/slow", "fetch_timeout", timeout=0.3)
    assert time.monotonic() - started < 2


def test_a_dripping_server_meets_the_overall_deadline(forge):
    # Each byte comes well within the read timeout, but the whole body would take 6 s.
    forge.put("/drip", b"x" * 60, drip=0.1, content_length=False)
    started = time.monotonic()
    refused(forge.url + "/drip", "fetch_timeout", timeout=0.5)
    assert time.monotonic() - started < 2


def test_same_host_redirects_are_followed(forge):
    forge.redirect("/one", "/two")
    forge.redirect("/two", f"{forge.url}/three", status=301)
    forge.put("/three", "arrived")
    assert fetch(forge.url + "/one") == "arrived"
    assert forge.paths() == ["/one", "/two", "/three"]


def test_redirects_to_another_host_are_refused(forge):
    forge.redirect("/away", f"http://localhost:{forge.port}/target")
    forge.redirect("/metadata", "http://169.254.169.254/latest/meta-data/")
    forge.put("/target", "should not be read")
    refused(forge.url + "/away", "fetch_redirect_refused")
    refused(forge.url + "/metadata", "fetch_redirect_refused")
    assert forge.paths() == ["/away", "/metadata"]
    forge.redirect("/broken", "http://[::1/x")  # urllib raises ValueError on this
    refused(forge.url + "/broken", "fetch_redirect_refused")


def test_redirect_chains_and_loops_are_cut(forge):
    for i in range(5):
        forge.redirect(f"/r{i}", f"/r{i + 1}")
    forge.put("/r5", "too far")
    forge.redirect("/loop", "/loop")
    forge.put("/r-empty", status=302)
    refused(forge.url + "/r0", "fetch_redirect_refused")
    assert forge.paths() == ["/r0", "/r1", "/r2", "/r3"]
    refused(forge.url + "/loop", "fetch_redirect_refused")
    refused(forge.url + "/r-empty", "fetch_redirect_refused")


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "[::1]", "[::ffff:127.0.0.1]", "2130706433", "0.0.0.0"],  # noqa: S104
)
def test_private_and_loopback_addresses_are_refused_before_connecting(forge, host):
    forge.put("/secret", "internal")
    refused(f"http://{host}:{forge.port}/secret", "fetch_private_address", allow_private=False)
    assert forge.hits == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",  # shared address space (carrier-grade NAT)
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    ],
)
def test_internal_networks_are_refused(url):
    started = time.monotonic()
    refused(url, "fetch_private_address", allow_private=False, timeout=5)
    assert time.monotonic() - started < 1  # refused without trying to connect


def test_one_private_address_among_public_ones_is_enough_to_refuse(forge, monkeypatch):
    monkeypatch.setattr(fetcher, "_resolve", lambda host, port: ["93.184.215.14", "127.0.0.1"])
    refused(f"http://forge.test:{forge.port}/x", "fetch_private_address", allow_private=False)
    assert forge.hits == []


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),  # noqa: S104
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::", False),
        ("::1", False),
        ("::ffff:10.0.0.1", False),
        ("64:ff9b::a00:1", False),
        ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
        ("fe80::1%1", False),
        ("fc00::1", False),
        ("ff0e::1", False),
    ],
)
def test_is_public_address(address, public):
    assert is_public_address(address) is public


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.org/x",
        "gopher://example.org/",
        "http://user:pass@example.org/",
        "http:///no-host",
        "http://example.org:99999/",
    ],
)
def test_only_plain_http_urls_are_fetched(url):
    refused(url, "fetch_failed")


def test_unresolvable_hosts_fail_cleanly(monkeypatch):
    def no_such_host(host, port):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(fetcher, "_resolve", no_such_host)
    refused("http://nowhere.test/x", "fetch_failed")


def test_a_closed_port_fails_cleanly():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    refused(f"http://127.0.0.1:{port}/x", "fetch_failed")


def test_connects_to_the_checked_address_not_a_second_lookup(forge, monkeypatch):
    # forge.test resolves nowhere but in the fetcher's own (checked) lookup: a second
    # resolution by the HTTP library would fail, and the server sees the original Host.
    monkeypatch.setattr(fetcher, "_resolve", lambda host, port: ["127.0.0.1"])
    forge.put("/pinned", "ok")
    assert fetch(f"http://forge.test:{forge.port}/pinned") == "ok"
    assert forge.hits == [("/pinned", f"forge.test:{forge.port}")]


@pytest.fixture
def tls_forge(tmp_path):
    context, ca_file = self_signed(tmp_path, "forge.test")
    with running_forge(context) as running:
        running.ca_file = str(ca_file)
        yield running


def test_https_is_pinned_and_still_verifies_the_certificate(tls_forge, monkeypatch):
    monkeypatch.setattr(fetcher, "_resolve", lambda host, port: ["127.0.0.1"])
    tls_forge.put("/raw", "over tls")
    url = f"https://forge.test:{tls_forge.port}/raw"
    assert fetch(url, verify=tls_forge.ca_file) == "over tls"
    # Without trusting the test CA, the same server is refused.
    refused(url, "fetch_failed")
    # A name the certificate does not cover is refused too, though the address is the same.
    refused(f"https://other.test:{tls_forge.port}/raw", "fetch_failed", verify=tls_forge.ca_file)


def test_https_never_redirects_to_http(tls_forge, monkeypatch):
    monkeypatch.setattr(fetcher, "_resolve", lambda host, port: ["127.0.0.1"])
    tls_forge.redirect("/down", f"http://forge.test:{tls_forge.port}/plain")
    error = refused(
        f"https://forge.test:{tls_forge.port}/down",
        "fetch_redirect_refused",
        verify=tls_forge.ca_file,
    )
    assert "https" in error.message

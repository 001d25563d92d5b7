"""False-positive guards: each one silences its look-alikes and only those."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from shared.pii.guards import is_fixture_path, is_lock_file, is_placeholder, is_repetitive
from tests.shared.pii_helpers import body, found

SHA1 = hashlib.sha1(b"x", usedforsecurity=False).hexdigest()
SHA256 = hashlib.sha256(b"x").hexdigest()
MD5 = hashlib.md5(b"x", usedforsecurity=False).hexdigest()


@pytest.mark.parametrize(
    "text",
    [
        f'sha256 = "{SHA256}"\n',
        f'"checksum": "{SHA1}"\n',
        f"md5sum: {MD5}\n",
        f'<script integrity="sha384-{body(64)}">\n',
        f'{{"hash": "{body(43)}="}}\n',
        f"commit {SHA1}\n",
        f'ETAG = "{SHA256}"\n',
    ],
)
def test_hashes_and_checksums_in_hash_context(text):
    assert found(text, sensitivity=3) == []


def test_hex_digests_are_not_keys_even_without_context():
    assert found(f'x = "{SHA256}"\ny = "{MD5}"\n', sensitivity=3) == []


def test_twilio_shaped_hex_in_hash_context_is_ignored():
    sid = "AC" + body(32, "0123456789abcdef")
    assert found(f"sha: {sid}\n") == []
    assert found(f"sid = {sid}\n")[0][0] == "twilio-account-sid"


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("package-lock.json", f'"integrity": "sha512-{body(86)}=="'),
        ("yarn.lock", f"  integrity sha512-{body(86)}=="),
        ("poetry.lock", f'{{file = "x.whl", hash = "sha256:{SHA256}"}}'),
        ("Cargo.lock", f'checksum = "{SHA256}"'),
        ("go.sum", f"golang.org/x/net v0.1.0 h1:{body(43)}="),
        ("package-lock.json", f'"resolved": "https://r.example/x/-/x-1.0.tgz", "k": "{body(40)}"'),
    ],
)
def test_lock_files(name, line):
    assert is_lock_file(f"repo/{name}")
    assert found(line + "\n", f"repo/{name}", sensitivity=3) == []


def test_lock_files_still_report_real_credentials():
    line = '"resolved": "https://ci:Qx7m2PzK9w@npm.corp-registry.io/x/-/x-1.0.0.tgz"\n'
    assert [v for _, _, v, _ in found(line, "package-lock.json")] == ["Qx7m2PzK9w"]


def test_uuids():
    text = f'id = "{uuid.uuid4()}"\napi_key = "{uuid.uuid4()}"\n'
    assert found(text, sensitivity=3) == []


@pytest.mark.parametrize(
    "text",
    [
        'VERSION = "1.2.3.4"\n',
        "version 10.0.19041.1\n",
        "Firmware v2.14.3.77 released\n",
        "requires pkg>=4.3.2.1\n",
        "oid = 1.3.6.1.4.1.311\n",
        "date 2023.11.05.12\n",
    ],
)
def test_version_strings_that_look_like_ips(text):
    assert found(text) == []


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.8", "172.16.4.2", "192.168.1.20", "127.0.0.1", "169.254.10.1", "100.64.1.1",
        "192.0.2.44", "198.51.100.7", "203.0.113.9", "224.0.0.251", "240.1.2.3", "0.1.2.3",
        "255.255.255.0", "::1", "fe80::1ff:fe23:4567:890a", "fd12:3456:789a::1",
        "2001:db8::8a2e:370:7334", "ff02::1", "::ffff:192.0.2.1", "81.169.145.0",
        "1.2.3.4", "8.8.8.8", "42.42.42.42",
    ],
)  # fmt: skip
def test_non_public_documentation_and_made_up_addresses(address):
    assert found(f'host = "{address}"\n', sensitivity=3) == []


@pytest.mark.parametrize(
    "text",
    [
        'api_key = "your_api_key"\n',
        'password = "xxx"\n',
        'token = "<token>"\n',
        'password = "changeme"\n',
        'secret = "${DB_SECRET}"\n',
        'password = "%s"\n',
        'password = "{password}"\n',
        "PASSWORD=$DB_PASSWORD\n",
        'token = "********"\n',
        'api_key = "API_KEY"\n',
        'password = os.environ["PASSWORD"]\n',
        'password = ""\n',
        "AWS_ACCESS_KEY_ID = AKIAIOSFODNN7EXAMPLE\n",
        'stripe = "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx"\n',
        'GITHUB_TOKEN = "ghp_' + "x" * 36 + '"\n',
        'token = "ghp_1234567890abcdefghijklmnopqrstuvwxyz"\n',
        "postgres://user:password@localhost/db\n",
        "https://admin:${PASS}@example.com\n",
        "Contact: someone@example.com, jane@example.org, root@localhost\n",
        "git clone git@github.com:owner/repo.git\n",
        "password_file = 'secrets/db.txt'\ntoken_type = 'bearer'\nmax_tokens = 'unlimited'\n",
        "if password == 'Sx9!kq2LmZ':\n",
    ],
)
def test_placeholders(text):
    assert found(text, "src/app.py") == []


def test_placeholder_guard_unit():
    for value in ("your_api_key", "xxx", "<token>", "changeme", "${VAR}", "%s", "{name}"):
        assert is_placeholder(value), value
    assert not is_placeholder("Tr0ub4dor&3x")
    assert not is_placeholder(body(32))


@pytest.mark.parametrize(
    "value", ["aaaaaaaaaaaaaaaa", "1234567890123456", "abcdefghijklmnop", "xXxXxXxXxXxX"]
)
def test_repeated_and_sequential_characters(value):
    assert is_repetitive(value)
    assert found(f'secret_token = "{value}"\n', sensitivity=3) == []


def test_test_card_numbers_are_skipped():
    text = 'card = "4111111111111111"\ncard = "4242 4242 4242 4242"\ncard = "5555555555554444"\n'
    assert found(text, sensitivity=3) == []


def test_fixture_paths_drop_obviously_fake_values_only():
    fake = 'password = "test-password-1"\napi_token = "fake_' + body(24) + '"\n'
    real_token = "ghp_" + body(36)
    real = f'GITHUB_TOKEN = "{real_token}"\npassword = "Zq7!vR2m9Lx"\n'
    assert is_fixture_path("tests/fixtures/config.py")
    assert found(fake, "tests/fixtures/config.py") == []
    assert found(fake, "src/config.py") != []
    kept = [v for _, _, v, _ in found(real, "tests/fixtures/config.py")]
    assert kept == [real_token, "Zq7!vR2m9Lx"]


def test_e_mail_look_alikes():
    text = (
        "@property\nx = a@self.weight\nimg = 'icon@2x.png'\nuser:pass@host.com\n"
        "aa@bb.org xxxxxxx@dot.ca.gov\n"
    )
    assert found(text) == []


def test_phone_keyword_required_and_fictional_numbers_skipped():
    assert found("phone: (202) 555-0143\n") == []
    assert found("id = 4420794603\n") == []
    assert found("hotel: 2023-11-05\n") == []

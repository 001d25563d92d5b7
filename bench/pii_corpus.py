"""The labelled set for bench/pii.py: real source files with planted values and look-alikes.

Every planted line is a realistic line of code, config or prose holding one value. Positives
carry the kind the scanner must report and the exact character span of the value; negatives
(the must-not-match list) carry a category and must produce no finding at all.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import random
import string
import uuid
from dataclasses import dataclass

import phonenumbers
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
FIRST = [
    "maria",
    "jan",
    "li",
    "wei",
    "sofia",
    "lukas",
    "amara",
    "diego",
    "chen",
    "aisha",
    "noah",
    "emma",
    "oskar",
    "ines",
    "yuki",
]
LAST = [
    "kowalska",
    "novak",
    "zhang",
    "garcia",
    "okafor",
    "schmidt",
    "rossi",
    "dubois",
    "tanaka",
    "silva",
    "berg",
]
MAIL_DOMAINS = [
    "gmail.com",
    "posteo.de",
    "uni-bonn.de",
    "fastmail.fm",
    "outlook.com",
    "mit.edu",
    "web.de",
]
WORDS = [
    "river",
    "stone",
    "maple",
    "copper",
    "falcon",
    "ember",
    "orbit",
    "velvet",
    "cinder",
    "harbor",
]


@dataclass
class Plant:
    """One planted value: ``category`` for the report, ``kind`` expected (None: negative)."""

    category: str
    kind: str | None
    line: str  # the planted line, with the value at [offset, offset + len(value))
    offset: int
    value: str
    start: int = 0  # character span in the planted file, filled in by plant()
    end: int = 0


def _line(category, kind, template: str, value: str) -> Plant:
    line = template.replace("{v}", value)
    return Plant(category, kind, line, template.index("{v}"), value)


def _rand(rng, n, alphabet=ALNUM):
    return "".join(rng.choice(alphabet) for _ in range(n))


def email(rng):
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randint(1, 99)}"])
    domain = rng.choice(MAIL_DOMAINS + [f"{rng.choice(WORDS)}{rng.choice(WORDS)}.io"])
    value = f"{local}@{domain}"
    template = rng.choice(
        [
            "# Author: {name} <{v}>",
            '__email__ = "{v}"',
            '    "email": "{v}",',
            "Send bug reports to {v}.",
            "maintainer='{v}',",
        ]
    ).replace("{name}", f"{first.title()} {last.title()}")
    return _line("email", "email", template, value)


def ip_address(rng):
    while True:
        if rng.random() < 0.7:
            address = ipaddress.IPv4Address(rng.randint(1 << 24, (223 << 24) - 1))
        else:
            address = ipaddress.IPv6Address((0x2A << 120) | rng.getrandbits(112) << 8 | 1)
        if address.is_global and len(set(str(address).split("."))) > 2:
            break
    value = str(address)
    template = rng.choice(
        ['SERVER = "{v}"', "# connect to {v} on port 22", 'hosts = ["{v}"]', "upstream {v};"]
    )
    return _line("ip_address", "ip_address", template, value)


def provider_key(rng):
    shapes = [
        lambda: "AKIA" + _rand(rng, 16, string.ascii_uppercase + "234567"),
        lambda: rng.choice(["ghp_", "gho_", "ghs_"]) + _rand(rng, 36),
        lambda: "github_pat_" + _rand(rng, 22) + "_" + _rand(rng, 59),
        lambda: "glpat-" + _rand(rng, 20, ALNUM + "_-"),
        lambda: (
            f"xoxb-{_rand(rng, 12, '0123456789')}-{_rand(rng, 13, '0123456789')}-" + _rand(rng, 24)
        ),
        lambda: rng.choice(["sk_live_", "rk_live_"]) + _rand(rng, 24),
        lambda: "AIza" + _rand(rng, 35, ALNUM + "_-"),
        lambda: "sk-proj-" + _rand(rng, 120, ALNUM + "_-"),
        lambda: "sk-" + _rand(rng, 20) + "T3BlbkFJ" + _rand(rng, 20),
        lambda: "hf_" + _rand(rng, 34, string.ascii_letters),
        lambda: "npm_" + _rand(rng, 36),
        lambda: "pypi-AgEIcHlwaS5vcmc" + _rand(rng, 70, ALNUM + "_-"),
        lambda: rng.choice(["SK", "AC"]) + _rand(rng, 32, HEX),
        lambda: "SG." + _rand(rng, 22, ALNUM + "_-") + "." + _rand(rng, 43, ALNUM + "_-"),
    ]
    value = rng.choice(shapes)()
    template = rng.choice(
        [
            'TOKEN = "{v}"',
            'headers = {"Authorization": "token {v}"}',
            "export API_TOKEN={v}",
            'client = Client(api_key="{v}")',
            "# old key: {v}",
        ]
    )
    return _line("provider_key", "key", template, value)


def _pem(rng) -> str:
    choice = rng.randrange(4)
    if choice == 0:
        key, fmt = rsa.generate_private_key(65537, 2048), serialization.PrivateFormat.PKCS8
    elif choice == 1:
        key = rsa.generate_private_key(65537, 2048)
        fmt = serialization.PrivateFormat.TraditionalOpenSSL
    elif choice == 2:
        key, fmt = ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8
    else:
        key, fmt = ed25519.Ed25519PrivateKey.generate(), serialization.PrivateFormat.OpenSSH
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def private_key(rng):
    if rng.random() < 0.15:  # PGP armour: cryptography cannot make one; a realistic body
        lines = "\n".join(_rand(rng, 64, B64) for _ in range(20))
        block = (
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n"
            f"{lines}\n={_rand(rng, 4, B64)}\n-----END PGP PRIVATE KEY BLOCK-----"
        )
    else:
        block = _pem(rng).decode().strip()
    template = rng.choice(['KEY = """{v}"""', "{v}", "# {v}"])
    if template == "# {v}":
        block = block.replace("\n", "\n# ")
    return _line("private_key", "private_key", template, block)


def password(rng):
    value = rng.choice(
        [
            rng.choice(WORDS).title() + str(rng.randint(10, 9999)) + rng.choice("!#$%&*?"),
            _rand(rng, rng.randint(10, 16), ALNUM + "!#%&*+-=?@^_"),
            rng.choice(WORDS) + rng.choice("-_.") + rng.choice(WORDS) + str(rng.randint(1, 99)),
        ]
    )
    template = rng.choice(
        [
            'password = "{v}"',
            "DB_PASSWORD = '{v}'",
            '    "db_password": "{v}",',
            'conn = "postgresql://app:{v}@db.internal.corp.net:5432/app"',
            'login(user, passwd="{v}")',
            "SMTP_PASS='{v}'",
        ]
    )
    if "postgresql://" in template:
        value = value.replace("@", "9").replace("/", "8")
    return _line("password", "password", template, value)


def card(rng):
    from shared.pii.personal import luhn_valid

    prefix, length = rng.choice(
        [("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15), ("6011", 16)]
    )
    partial = prefix + _rand(rng, length - len(prefix) - 1, "0123456789")
    number = next(partial + d for d in "0123456789" if luhn_valid(partial + d))
    groups = (4, 6, 5) if length == 15 else (4, 4, 4, 4)
    if rng.random() < 0.5:
        parts, index = [], 0
        for size in groups:
            parts.append(number[index : index + size])
            index += size
        number = rng.choice([" ", "-"]).join(parts)
    template = rng.choice(
        ['card_number = "{v}"', "# charged card {v} on 2024-03-01", '{"pan": "{v}"}', 'cc = "{v}"']
    )
    return _line("card", "card", template, number)


def phone(rng):
    region = rng.choice(["US", "GB", "DE", "FR", "IN", "BR", "JP", "NL"])
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    national = str(example.national_number)
    while True:
        candidate = national[:3] + _rand(rng, len(national) - 3, "0123456789")
        number = phonenumbers.parse(f"+{example.country_code}{candidate}")
        if phonenumbers.is_valid_number(number) and "555" not in candidate[3:6]:
            break
    value = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    template = rng.choice(
        ['"phone": "{v}",', "# Tel: {v}", 'mobile = "{v}"', "Fax: {v}", "call me: phone {v}"]
    )
    return _line("phone", "phone", template, value)


def high_entropy(rng):
    value = _rand(rng, rng.choice([32, 40, 48]), rng.choice([ALNUM, B64]))
    template = rng.choice(['signing_value = "{v}"', 'x = "{v}"', 'KEY_MATERIAL = ("{v}")'])
    return _line("high_entropy", "key", template, value)


def negative(rng):
    """A must-not-match look-alike, with its category."""
    digest = hashlib.sha256(_rand(rng, 16).encode()).hexdigest()
    sha1 = hashlib.sha1(_rand(rng, 16).encode(), usedforsecurity=False).hexdigest()
    sentence = " ".join(rng.choice(WORDS) for _ in range(8))
    cases = [
        ("hash", 'sha256 = "{v}"', digest),
        ("hash", '"checksum": "{v}",', sha1),
        ("hash", "commit {v}", sha1),
        (
            "hash",
            '"integrity": "{v}",',
            "sha512-" + base64.b64encode(hashlib.sha512(sentence.encode()).digest()).decode(),
        ),
        ("hash", 'x = "{v}"', digest),
        ("uuid", 'request_id = "{v}"', str(uuid.UUID(int=rng.getrandbits(128), version=4))),
        ("version", '__version__ = "{v}"', ".".join(str(rng.randint(0, 20)) for _ in range(4))),
        (
            "version",
            "Built with version {v}",
            ".".join(str(rng.randint(lo, hi)) for lo, hi in ((1, 9), (0, 9), (0, 99), (100, 9999))),
        ),
        (
            "placeholder",
            'api_key = "{v}"',
            rng.choice(["your_api_key", "<api-key>", "xxx", "${API_KEY}", "YOUR_API_KEY_HERE"]),
        ),
        (
            "placeholder",
            'password = "{v}"',
            rng.choice(["changeme", "password", "<password>", "%s", "{password}", "********"]),
        ),
        (
            "placeholder",
            "Contact: {v}",
            rng.choice(["jane@example.com", "user@example.org", "someone@example.net"]),
        ),
        ("placeholder", 'TOKEN = "{v}"', "ghp_" + "x" * 36),
        ("placeholder", "AWS_ACCESS_KEY_ID = {v}", "AKIAIOSFODNN7EXAMPLE"),
        (
            "test_card",
            'card_number = "{v}"',
            rng.choice(
                [
                    "4111111111111111",
                    "4242 4242 4242 4242",
                    "5555555555554444",
                    "378282246310005",
                    "6011111111111117",
                ]
            ),
        ),
        (
            "doc_ip",
            'SERVER = "{v}"',
            rng.choice(
                [
                    f"192.0.2.{rng.randint(1, 254)}",
                    f"198.51.100.{rng.randint(1, 254)}",
                    f"203.0.113.{rng.randint(1, 254)}",
                    f"2001:db8::{rng.randint(1, 999)}",
                ]
            ),
        ),
        (
            "private_ip",
            'HOST = "{v}"',
            rng.choice(
                [
                    f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                    f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                    "127.0.0.1",
                    "fe80::1",
                    "::1",
                ]
            ),
        ),
        ("base64_text", 'data = "{v}"', base64.b64encode(sentence.encode()).decode()),
        ("phone_no_keyword", "total = {v}", f"+44 20 7946 {rng.randint(1000, 9999)}"),
    ]
    category, template, value = rng.choice(cases)
    return _line(category, None, template, value)


POSITIVES = [email, ip_address, provider_key, private_key, password, card, phone, high_entropy]


def plant(host_text: str, rng: random.Random, negatives: int = 3) -> tuple[str, list[Plant]]:
    """Insert one value of every kind and some look-alikes between lines of a real file."""
    plants = [make(rng) for make in POSITIVES] + [negative(rng) for _ in range(negatives)]
    lines = host_text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    slots = sorted(rng.randrange(len(lines) + 1) for _ in plants)
    rng.shuffle(plants)
    out, position, previous = [], 0, 0
    for slot, item in zip(slots, plants, strict=True):
        chunk = "".join(lines[previous:slot])
        out.append(chunk)
        position += len(chunk)
        item.start = position + item.offset
        item.end = item.start + len(item.value)
        out.append(item.line + "\n")
        position += len(item.line) + 1
        previous = slot
    out.append("".join(lines[previous:]))
    return "".join(out), plants

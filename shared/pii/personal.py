"""Personal data: e-mail addresses, public IP addresses, payment cards and phone numbers."""

from __future__ import annotations

import ipaddress
import re

from shared.pii.guards import in_version_context, is_placeholder, is_repetitive
from shared.pii.rules import ALNUM, Candidate, Rule

# --- e-mail -----------------------------------------------------------------------------------

_COMMON_TLDS = frozenset(
    """
    com org net edu gov mil int info biz name pro io ai app dev co me tv cc xyz tech online site
    store cloud digital email mail systems solutions software network technology consulting
    agency studio design media news blog space live life world today group company services
    academy institute university school foundation global international science engineering
    capital ventures partners works zone center club team social africa asia eu berlin london
    paris nyc tokyo amsterdam swiss bayern wien scot wales museum aero coop jobs travel mobi
    """.split()  # noqa: SIM905
)
_NOT_TLDS = frozenset({"py", "js", "ts", "md", "sh", "rs", "rb", "pl", "cs", "mk", "so", "gz"})
_PLACEHOLDER_DOMAINS = re.compile(
    r"(?:^|\.)(?:example(?:\.(?:com|org|net|edu))?|test|invalid|localhost|local|localdomain"
    r"|domain\.(?:com|tld)|(?:your|my)-?(?:domain|company|site|email)\.[a-z]+|email\.com"
    r"|foo\.(?:com|org|bar)|bar\.(?:com|org)|foobar\.com|acme\.(?:com|org)|company\.com)$"
)
_PLACEHOLDER_LOCALS = frozenset(
    """
    user username name email you yourname your.name your_name your-name yourself someone
    somebody anyone foo bar baz test tester xxx me my.name first.last firstname.lastname
    john.doe jane.doe johndoe janedoe git hg noreply no-reply donotreply do-not-reply nobody
    mailer-daemon postmaster example sample
    """.split()  # noqa: SIM905
)
_EMAIL_EDGE = ALNUM | frozenset(b"_-")


def _email(candidate: Candidate) -> int | None:
    value = candidate.value
    trimmed = len(value) - len(value.lstrip(".%+-"))
    candidate.start += trimmed
    local, _, domain = candidate.value.rpartition("@")
    if not local or len(local) > 64 or ".." in local or local.endswith("."):
        return None
    if candidate.char_after() and candidate.char_after()[0] in _EMAIL_EDGE:
        return None
    domain = domain.lower()
    labels = domain.split(".")
    if any(not label or label[0] == "-" or label[-1] == "-" for label in labels):
        return None
    tld = labels[-1]
    if tld in _NOT_TLDS or _PLACEHOLDER_DOMAINS.search(domain):
        return None
    if local.lower() in _PLACEHOLDER_LOCALS or "%" in local or _in_url_userinfo(candidate):
        return None
    if _fake_address(local, labels):
        return None
    if tld in _COMMON_TLDS or len(tld) == 2:
        return 1
    return 3


def _fake_address(local: str, labels: list[str]) -> bool:
    """``xxxxx@dot.ca.gov``, ``bbb@zzz.org``, ``a@b.com``, ``abc@xyz.com``, ``x@example.co``."""
    name = labels[-2] if len(labels) >= 2 else labels[0]
    if "example" in labels or is_placeholder(local) and local.lower() not in ("admin", "root"):
        return True
    if len(set(local.lower())) == 1 or any(len(set(label)) == 1 for label in labels[:-1]):
        return True
    return (
        len(local) <= 3
        and len(name) <= 3
        and name in ("xyz", "abc", "ab", "xy") + tuple("abcdefghijklmnopqrstuvwxyz")
    )


def _in_url_userinfo(candidate: Candidate) -> bool:
    """``scheme://user@host`` or ``user:pass@host``: the part before ``@`` is a user name."""
    if candidate.char_before() == b":":
        return True
    before = candidate.before(256)
    cut = max(before.rfind(c) for c in (b" ", b"\t", b"\n", b'"', b"'", b"<", b"(", b"="))
    return b"://" in before[cut + 1 :]


# --- IP addresses -----------------------------------------------------------------------------

_NOT_PUBLIC_V4 = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
        "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    )
]  # fmt: skip
_GLOBAL_V6 = ipaddress.ip_network("2000::/3")
_NOT_PUBLIC_V6 = [
    ipaddress.ip_network(n)
    for n in ("2001::/23", "2001:db8::/32", "3fff::/20", "2002::/16", "3ffe::/16")
]
_IP_EDGE = ALNUM | frozenset(b"_.:")
_WELL_KNOWN_V4 = frozenset(
    {"8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112",
     "208.67.222.222", "208.67.220.220", "4.2.2.2", "4.2.2.1"}
)  # fmt: skip


def _dummy_v4(octets: list[int]) -> bool:
    """Network and broadcast addresses, ``42.42.42.42``, ``1.2.3.4``, ``12.34.56.78``."""
    if octets[3] in (0, 255) or len(set(octets)) == 1:
        return True
    steps = {b - a for a, b in zip(octets, octets[1:], strict=False)}
    return len(steps) == 1 or octets in ([12, 34, 56, 78], [98, 76, 54, 32])


def is_public_ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Globally routed unicast: not private, loopback, link-local, documentation, multicast,
    reserved, shared (CGNAT), benchmarking or 6to4 space."""
    if address.version == 4:
        return not any(address in net for net in _NOT_PUBLIC_V4)
    return address in _GLOBAL_V6 and not any(address in net for net in _NOT_PUBLIC_V6)


def _ipv4(candidate: Candidate) -> int | None:
    value = candidate.value
    if any(len(o) > 1 and o[0] == "0" for o in value.split(".")):
        return None  # zero-padded: dates, versions, OIDs
    if candidate.char_before() in (b".", b"-") or candidate.char_before().isalnum():
        return None
    after = candidate.after(2)
    if after[:1] and (after[:1].isalnum() or after[:1] in (b"_", b"-")):
        return None
    if after[:1] == b"." and after[1:2].isdigit():
        return None
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        return None
    if not is_public_ip(address) or in_version_context(candidate.line_before()[-40:]):
        return None
    if value in _WELL_KNOWN_V4 or _dummy_v4([int(o) for o in value.split(".")]):
        return None  # public resolvers and made-up addresses: not anyone's personal data
    return 2


def _ipv6(candidate: Candidate) -> int | None:
    value = candidate.value
    if value.count(":") < 2 or ("::" not in value and value.count(":") != 7):
        return None
    if candidate.char_before() and candidate.char_before()[0] in _IP_EDGE:
        return None
    if candidate.char_after() and candidate.char_after()[0] in ALNUM:
        return None
    if value.endswith("::"):
        return None  # a network prefix, not a host
    try:
        address = ipaddress.IPv6Address(value)
    except ValueError:
        return None
    return 2 if is_public_ip(address) else None


# --- payment cards ----------------------------------------------------------------------------

_TEST_CARDS = frozenset(
    """
    4111111111111111 4242424242424242 4012888888881881 4222222222222 4000056655665556
    4000000000000002 4000000000009995 4000000000000077 4000000000003220 4000002500003155
    4000000000000119 4000000000000069 4000000000000127 4000000000000101 4000000000000341
    5555555555554444 5105105105105100 5200828282828210 2223003122003222 5454545454545454
    378282246310005 371449635398431 378734493671000 6011111111111117 6011000990139424
    6011000400000000 6011981111111113 3530111333300000 3566002020360505 3566111111111113
    30569309025904 38520000023237 36227206271667 6200000000000005 6200000000000047
    4035501000000008 4917610000000000 4988080000000000 5425233430109903 4263982640269299
    """.split()  # noqa: SIM905
)
_CARD_CONTEXT = re.compile(rb"card|credit|\bcc|\bpan\b|visa|master|amex|payment|cvv|expir")
_CARD_EDGE = ALNUM | frozenset(b"_.,/")


def _issuer_accepts(digits: str) -> bool:
    """Issuer identification number ranges and lengths of the major networks."""
    n, p2, p3, p4 = len(digits), int(digits[:2]), int(digits[:3]), int(digits[:4])
    p6 = int(digits[:6])
    if digits[0] == "4":
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16
    if p2 in (34, 37):
        return n == 15
    if p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or 622126 <= p6 <= 622925:
        return 16 <= n <= 19
    if 3528 <= p4 <= 3589:
        return 16 <= n <= 19
    if 300 <= p3 <= 305 or p4 == 3095 or p2 in (36, 38, 39):
        return 14 <= n <= 19
    if p2 == 62 or p4 in (5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763):
        return 13 <= n <= 19
    return False


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(candidate: Candidate) -> int | None:
    value = candidate.value
    before, after = candidate.char_before(), candidate.after(2)
    if before and (before[0] in _CARD_EDGE or before == b"-"):
        return None
    if after[:1] and (after[:1][0] in ALNUM or after[:1] == b"-" and after[1:2].isdigit()):
        return None
    if after[:1] in (b".", b",") and after[1:2].isdigit():
        return None
    separators = {c for c in value if not c.isdigit()}
    if len(separators) > 1:
        return None
    digits = "".join(c for c in value if c.isdigit())
    if not 13 <= len(digits) <= 19 or not luhn_valid(digits) or not _issuer_accepts(digits):
        return None
    if digits in _TEST_CARDS or is_repetitive(digits[:-1]) or len(set(digits)) < 5:
        return None
    if _CARD_CONTEXT.search(candidate.line_before()[-48:].lower()):
        return 1
    quoted = candidate.char_before() in (b'"', b"'") or candidate.after(1) in (b'"', b"'")
    return 2 if separators or quoted else 3


# --- phone numbers ----------------------------------------------------------------------------

_FICTIONAL_US = re.compile(r"^(?:\+?1)?\d{3}555(?:01\d\d)$")
_NOT_PHONE_SHAPE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}$|^\d{1,3}(?:\.\d{1,3}){2,}$")
DEFAULT_PHONE_REGION = "US"


def _phone(candidate: Candidate) -> int | None:
    import phonenumbers  # imported on first use: ~50 ms, and only files with phone keywords

    raw = candidate.value.rstrip(" .-(")
    candidate.end = candidate.start + len(raw.encode())
    digits = "".join(c for c in raw if c.isdigit())
    if not 7 <= len(digits) <= 15 or _NOT_PHONE_SHAPE.match(raw) or is_repetitive(digits):
        return None
    if candidate.char_after()[:1].isalnum() or candidate.char_before()[:1].isalnum():
        return None
    if _FICTIONAL_US.match(digits):
        return None
    try:
        number = phonenumbers.parse(raw, DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        return None
    return 2 if phonenumbers.is_valid_number(number) else None


RULES = [
    Rule(
        id="email",
        kind="email",
        pattern=r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}",
        validate=_email,
        keywords=(b"@",),
        priority=50,
        secret=False,
    ),
    Rule(
        id="ipv4",
        kind="ip_address",
        pattern=r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}",
        validate=_ipv4,
        keywords=(b".",),
        priority=40,
        secret=False,
    ),
    Rule(
        id="ipv6",
        kind="ip_address",
        pattern=r"[0-9A-Fa-f]*:[0-9A-Fa-f]*:[0-9A-Fa-f:]*",
        validate=_ipv6,
        keywords=(b"::", b":0", b":1", b":2", b":3", b":4", b":5", b":6", b":7", b":8", b":9"),
        priority=40,
        secret=False,
    ),
    Rule(
        id="payment-card",
        kind="card",
        pattern=r"[2-6][0-9]{12,18}|[2-6][0-9]{3}(?:[ -][0-9]{4}){2}[ -][0-9]{1,4}"
        r"(?:[ -][0-9]{3})?|3[0-9]{3}[ -][0-9]{6}[ -][0-9]{4,5}",
        validate=_card,
        priority=45,
        hashlike=True,
        secret=False,
    ),
    Rule(
        id="phone-number",
        kind="phone",
        pattern=r"(?i:phone|\btel\b|mobile|\bcell|\bfax\b|whatsapp|\bsms\b)[^\n0-9+]{0,40}"
        r"(\+?[0-9(][0-9 ().-]{5,22}[0-9])",
        validate=_phone,
        keywords=(b"phone", b"tel", b"mobile", b"cell", b"fax", b"whatsapp", b"sms"),
        ignore_case=True,
        groups=(1,),
        priority=30,
        hashlike=True,
        secret=False,
    ),
]

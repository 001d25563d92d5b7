"""Every kind and rule finds its value whole, with the right kind, rule and tier."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from shared.pii import KINDS, Scanner, fingerprint, mask
from tests.shared.pii_helpers import body, found, values

PROVIDER_TOKENS = [
    ("aws-access-key-id", "AKIA" + body(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")),
    ("github-token", "ghp_" + body(36)),
    ("github-token", "gho_" + body(36)),
    ("github-token", "ghs_" + body(36)),
    ("github-fine-grained-token", "github_pat_" + body(22) + "_" + body(59)),
    ("gitlab-token", "glpat-" + body(20)),
    ("slack-token", "xoxb-" + body(12, "0123456789") + "-" + body(13, "0123456789") + "-" + body(24)),
    ("slack-webhook", "https://hooks.slack.com/services/T" + body(8) + "/B" + body(8) + "/" + body(24)),
    ("stripe-live-key", "sk_live_" + body(24)),
    ("stripe-live-key", "rk_live_" + body(24)),
    ("google-api-key", "AIza" + body(35)),
    ("openai-api-key", "sk-proj-" + body(64)),
    ("openai-api-key", "sk-" + body(20) + "T3BlbkFJ" + body(20)),
    ("anthropic-api-key", "sk-ant-api03-" + body(93)),
    ("huggingface-token", "hf_" + body(34)),
    ("npm-token", "npm_" + body(36)),
    ("pypi-token", "pypi-AgEIcHlwaS5vcmc" + body(60)),
    ("twilio-api-key", "SK" + body(32, "0123456789abcdef")),
    ("twilio-account-sid", "AC" + body(32, "0123456789abcdef")),
    ("sendgrid-api-key", "SG." + body(22) + "." + body(43)),
    ("shopify-token", "shpat_" + body(32, "0123456789abcdef")),
    ("digitalocean-token", "dop_v1_" + body(64, "0123456789abcdef")),
    ("telegram-bot-token", "123456789:AA" + body(33)),
    ("mailgun-api-key", "key-" + body(32, "0123456789abcdef")),
    ("square-token", "sq0atp-" + body(22)),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "token"), PROVIDER_TOKENS)
def test_provider_keys_are_reported_whole(rule, token):
    text = f'client = Client(token="{token}")\n'
    assert found(text) == [(rule, "key", token, found(text)[0][3])]
    assert found(text)[0][3] <= 2


def test_aws_secret_access_key_in_context():
    secret = body(30) + "/+" + body(8)
    text = f"aws_secret_access_key = {secret}\n"
    assert found(text, "config/credentials") == [("aws-secret-access-key", "key", secret, 1)]


def test_azure_storage_account_key():
    key = body(86, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") + "=="
    text = f'conn = "DefaultEndpointsProtocol=https;AccountName=x;AccountKey={key};"\n'
    assert found(text) == [("azure-storage-key", "key", key, 1)]


def _pem(key, encoding_format):
    return key.private_bytes(
        serialization.Encoding.PEM, encoding_format, serialization.NoEncryption()
    ).decode()


@pytest.mark.parametrize(
    "block",
    [
        _pem(rsa.generate_private_key(65537, 2048), serialization.PrivateFormat.TraditionalOpenSSL),
        _pem(ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8),
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        .decode(),
    ],
    ids=["rsa-pem", "ec-pkcs8", "openssh"],
)
def test_private_key_blocks_from_begin_to_end(block):
    text = f"# deploy key\n{block}\nprint('done')\n"
    [(rule, kind, value, tier)] = found(text, "deploy/key.pem")
    assert (rule, kind, tier) == ("private-key", "private_key", 1)
    assert value == block.strip()
    assert value.startswith("-----BEGIN") and value.endswith("PRIVATE KEY-----")


def test_pgp_private_key_block():
    armour = "\n".join(
        body(64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        for _ in range(6)
    )
    block = f"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{armour}\n=AbCd\n-----END PGP PRIVATE KEY BLOCK-----"
    assert found(block + "\n", "keys.asc") == [("private-key", "private_key", block, 1)]


def test_private_key_inside_a_string_literal_with_escapes():
    lines = "\\n".join(
        body(64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        for _ in range(3)
    )
    block = f"-----BEGIN RSA PRIVATE KEY-----\\n{lines}\\n-----END RSA PRIVATE KEY-----"
    assert values(f'KEY = "{block}"\n') == [block]


def test_unterminated_private_key_reports_header_and_body():
    lines = "\n".join(
        body(64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        for _ in range(3)
    )
    text = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{lines}\n"
    [(rule, kind, value, tier)] = found(text, "id_ed25519")
    assert (rule, kind, tier) == ("private-key-unterminated", "private_key", 2)
    assert value == text.strip()


def test_jwt():
    token = (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJzdWIiOiI4ODQyIiwibmFtZSI6Ik1hcmlhIEtvd2Fsc2thIiwiaWF0IjoxNzAwMDAwMDAwfQ."
        + body(43, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    )
    assert found(f"headers = {{'Authorization': 'Bearer {token}'}}\n") == [("jwt", "key", token, 1)]


def test_credentials_in_urls_report_the_password():
    text = 'DATABASE_URL = "postgres://app:Zq7!vR2m9Lx@db.internal.acme.net:5432/app"\n'
    assert found(text) == [("url-credentials", "password", "Zq7!vR2m9Lx", 1)]
    assert values("amqp://guest:k3Yb9q@rabbit.corp.io/\n") == ["k3Yb9q"]


def test_basic_and_bearer_authorization_headers():
    import base64

    basic = base64.b64encode(b"deploy:Gx8#pL2qWz").decode()
    bearer = body(40)
    text = f'auth = "Basic {basic}"\nheaders["Authorization"] = "Bearer {bearer}"\n'
    assert found(text) == [
        ("basic-auth", "password", basic, 2),
        ("bearer-token", "key", bearer, 2),
    ]


_API_KEY, _CLIENT_SECRET, _AUTH_TOKEN = "k" + body(31), body(32), body(24)


@pytest.mark.parametrize(
    ("text", "path", "value", "tier"),
    [
        ('password = "Tr0ub4dor&3x"\n', "src/app.py", "Tr0ub4dor&3x", 1),
        ("db_pass = 'hunter22a'\n", "src/app.py", "hunter22a", 2),
        (f'{{"api_key": "{_API_KEY}"}}\n', "conf/app.json", _API_KEY, 1),
        ("SECRET=Sx9!kq2LmZ\n", "deploy/.env", "Sx9!kq2LmZ", 1),
        ("  password: Rm4-pQ8z!v\n", "deploy/values.yaml", "Rm4-pQ8z!v", 1),
        (f'client_secret="{_CLIENT_SECRET}"\n', "src/oauth.js", _CLIENT_SECRET, 1),
        ("export DB_PASSWORD=Wq9vB3nK7y\n", "scripts/run.sh", "Wq9vB3nK7y", 2),
        ('login(user, password="s3cretPass!")\n', "src/app.py", "s3cretPass!", 1),
        (f'os.environ["AUTH_TOKEN"] = "{_AUTH_TOKEN}"\n', "src/app.py", _AUTH_TOKEN, 1),
    ],
)
def test_password_and_secret_assignments(text, path, value, tier):
    [(rule, kind, got, got_tier)] = found(text, path)
    assert (rule, kind, got) == ("password-assignment", "password", value)
    assert got_tier <= tier


def test_assignment_redacts_only_the_value_not_the_quotes():
    [(_, _, value, _)] = found('password = "Tr0ub4dor&3x"\n')
    assert '"' not in value


def test_generic_high_entropy_string_tiers_by_context():
    token = body(32)
    assert found(f'auth_header_value = "{token}"\n', sensitivity=3) == [
        ("high-entropy-string", "key", token, 2)
    ]
    assert found(f'x = "{token}"\n', sensitivity=3) == [("high-entropy-string", "key", token, 3)]
    assert found(f'x = "{token}"\n', sensitivity=2) == []


def test_emails():
    text = "Author: Maria Kowalska <maria.kowalska@posteo.de>, cc j.smith+list@uni-bonn.de\n"
    assert found(text) == [
        ("email", "email", "maria.kowalska@posteo.de", 1),
        ("email", "email", "j.smith+list@uni-bonn.de", 1),
    ]


def test_public_ipv4_and_ipv6():
    text = 'peers = ["81.169.145.105", "2a01:4f8:c17:3b1e::1", "10.1.2.3", "fe80::1"]\n'
    assert found(text) == [
        ("ipv4", "ip_address", "81.169.145.105", 2),
        ("ipv6", "ip_address", "2a01:4f8:c17:3b1e::1", 2),
    ]


def with_luhn(prefix: str, length: int) -> str:
    """Complete a card number with a random body and its Luhn check digit."""
    from shared.pii.personal import luhn_valid

    partial = prefix + body(length - len(prefix) - 1, "0123456789")
    return next(partial + d for d in "0123456789" if luhn_valid(partial + d))


VISA, MASTERCARD, AMEX = with_luhn("4539", 16), with_luhn("5425", 16), with_luhn("37", 15)


def spaced(number: str, groups=(4, 4, 4, 4)) -> str:
    parts, index = [], 0
    for size in groups:
        parts.append(number[index : index + size])
        index += size
    return " ".join(parts)


@pytest.mark.parametrize(
    ("text", "value", "tier"),
    [
        (f"card_number = '{spaced(VISA)}'\n", spaced(VISA), 1),
        (f'payment = "{MASTERCARD}"\n', MASTERCARD, 1),
        (f'num = "{VISA}"\n', VISA, 2),
        (f"ref {spaced(VISA)} end\n", spaced(VISA), 2),
        (f"amex: {spaced(AMEX, (4, 6, 5))}\n", spaced(AMEX, (4, 6, 5)), 1),
        (f"total {VISA} rows\n", VISA, 3),
    ],
)
def test_payment_cards(text, value, tier):
    assert found(text, sensitivity=3) == [("payment-card", "card", value, tier)]


def test_cards_failing_luhn_or_issuer_ranges_are_ignored():
    bad_luhn = VISA[:-1] + str((int(VISA[-1]) + 1) % 10)
    no_issuer = with_luhn("9999", 16)
    assert found(f'card = "{bad_luhn}"\ncard = "{no_issuer}"\n', sensitivity=3) == []


def test_phone_numbers_only_with_a_phone_keyword():
    assert found("Tel: +44 20 7946 0321\n") == [("phone-number", "phone", "+44 20 7946 0321", 2)]
    assert found('{"mobile": "+49 1512 8847302"}\n') == [
        ("phone-number", "phone", "+49 1512 8847302", 2)
    ]
    assert found("total = +44 20 7946 0321\n") == []


def test_every_kind_is_covered_by_a_rule():
    from shared.pii import DEFAULT_RULES

    assert {rule.kind for rule in DEFAULT_RULES} == set(KINDS)
    assert len({rule.id for rule in DEFAULT_RULES}) == len(DEFAULT_RULES)


def test_sensitivity_selects_tiers():
    text = 'password = "sesame"\npassword2 = "Tr0ub4dor&3x"\nip = "81.169.145.105"\n'
    tiers = {n: sorted(t for *_, t in found(text, sensitivity=n)) for n in (1, 2, 3)}
    assert tiers == {1: [1], 2: [1, 2], 3: [1, 2, 3]}
    with pytest.raises(ValueError):
        Scanner(sensitivity=4)


def test_finding_fields_fingerprint_and_mask():
    token = "ghp_" + body(32) + "ab12"
    text = f'TOKEN = "{token}"\n'
    [finding] = Scanner(key=b"k").scan_text(text, "src/a.py")
    assert finding.to_json().keys() >= {
        "path", "line", "column", "start", "end", "kind", "rule", "tier", "fingerprint",
        "masked", "content_sha256",
    }  # fmt: skip
    assert (finding.line, finding.column) == (1, 10)
    assert finding.masked == "ghp_****…****ab12"
    assert finding.fingerprint == fingerprint(b"k", "github-token", token)
    assert finding.fingerprint != Scanner(key=b"other").scan_text(text)[0].fingerprint
    assert token not in repr(finding) and token not in str(finding.to_json())


def test_masks():
    assert mask("email", "jane@example.org") == "j***@example.org"
    assert mask("ip_address", "81.169.145.105") == "81.169.*.*"
    assert mask("card", "4539 1488 0343 6467") == "****…6467"
    assert mask("password", "Tr0ub4dor&3x") == "T****x"
    assert mask("password", "short") == "****"
    assert mask("private_key", "-----BEGIN RSA PRIVATE KEY-----\nabc") == (
        "-----BEGIN RSA PRIVATE KEY-----…"
    )

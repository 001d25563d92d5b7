"""Provider keys with known shapes: the whole token is the value, the prefix is its keyword."""

from __future__ import annotations

import base64
import binascii
import json

from shared.pii.guards import (
    char_classes,
    in_hash_context,
    is_placeholder,
    is_repetitive,
    looks_random,
)
from shared.pii.rules import ALNUM, Candidate, Rule, bounded

_B64_CHARS = ALNUM | frozenset(b"+/")


def _provider(prefix: str, tier: int = 1, hex_body: bool = False):
    """Validator for a prefixed token: bounded, not a placeholder, body random enough."""

    def validate(candidate: Candidate) -> int | None:
        if not bounded(candidate):
            return None
        value = candidate.value
        body = value[len(prefix) :]
        if is_placeholder(value) or is_repetitive(body):
            return None
        if hex_body and in_hash_context(candidate.line_before()[-48:]):
            return None
        if not looks_random(body, 0.7):
            return None
        return tier

    return validate


def _aws_secret(candidate: Candidate) -> int | None:
    value = candidate.value
    if candidate.end < len(candidate.data) and candidate.data[candidate.end] in _B64_CHARS:
        return None
    if candidate.start and candidate.data[candidate.start - 1] in _B64_CHARS:
        return None
    if is_placeholder(value) or char_classes(value) < 3 or not looks_random(value, 0.75):
        return None
    return 1


def _azure_key(candidate: Candidate) -> int | None:
    value = candidate.value
    return None if is_placeholder(value) or not looks_random(value, 0.75) else 1


def _slack(candidate: Candidate) -> int | None:
    value = candidate.value
    if not bounded(candidate) or len(value) < 24 or value.count("-") < 2:
        return None
    if is_placeholder(value) or is_repetitive(value[5:].replace("-", "")):
        return None
    return 1


def _decode_segment(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _jwt(candidate: Candidate) -> int | None:
    if not bounded(candidate, ALNUM | frozenset(b"_-.")):
        return None
    header, payload, signature = (candidate.value.split(".") + ["", ""])[:3]
    try:
        fields = json.loads(_decode_segment(header))
        json.loads(_decode_segment(payload))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(fields, dict) or "alg" not in fields and "typ" not in fields:
        return None
    return 1 if len(signature) >= 16 else 2


def _key(rule_id: str, pattern: str, prefix: str, keywords: tuple[str, ...], **options) -> Rule:
    validate = options.pop("validate", None) or _provider(
        prefix, options.pop("tier", 1), options.pop("hex_body", False)
    )
    return Rule(
        id=rule_id,
        kind="key",
        pattern=pattern,
        validate=validate,
        keywords=tuple(k.encode() for k in keywords),
        priority=options.pop("priority", 100),
        prefix=prefix,
        **options,
    )


RULES = [
    _key(
        "aws-access-key-id",
        r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}",
        "AKIA",
        ("AKIA", "ASIA", "ABIA", "ACCA"),
    ),
    _key(
        "aws-secret-access-key",
        r"(?i:aws[A-Za-z0-9_.-]*(?:secret|key)|secret[_.-]?access[_.-]?key)[A-Za-z0-9_.-]*"
        r"[\"'\]]{0,2}[ \t]*(?::=|=>|=|:)[ \t]*[\"']?([A-Za-z0-9/+]{40})",
        "",
        ("aws", "secret"),
        ignore_case=True,
        groups=(1,),
        validate=_aws_secret,
        priority=95,
    ),
    _key(
        "github-token",
        r"gh[pousr]_[A-Za-z0-9]{36,251}",
        "ghp_",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ),
    _key(
        "github-fine-grained-token",
        r"github_pat_[A-Za-z0-9_]{60,255}",
        "github_pat_",
        ("github_pat_",),
    ),
    _key(
        "gitlab-token",
        r"gl(?:pat|dt|rt|ptt)-[A-Za-z0-9_-]{20,64}",
        "glpat-",
        ("glpat-", "gldt-", "glrt-", "glptt-"),
    ),
    _key("slack-token", r"xox[abposr]-[A-Za-z0-9-]{10,250}", "xoxb-", ("xox",), validate=_slack),
    _key(
        "slack-webhook",
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+-]{20,200}",
        "https://hooks.slack.com/",
        ("hooks.slack.com",),
    ),
    _key("stripe-live-key", r"(?:sk|rk)_live_[A-Za-z0-9]{20,247}", "sk_live_", ("_live_",)),
    _key("google-api-key", r"AIza[A-Za-z0-9_-]{35}", "AIza", ("AIza",)),
    _key(
        "openai-api-key",
        r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,250}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}",
        "sk-",
        ("sk-",),
    ),
    _key(
        "anthropic-api-key",
        r"sk-ant-(?:api|admin)[0-9]{2}-[A-Za-z0-9_-]{80,120}",
        "sk-ant-",
        ("sk-ant-",),
    ),
    _key("sk-api-key", r"sk-[A-Za-z0-9]{32,64}", "sk-", ("sk-",), tier=2, priority=90),
    _key("huggingface-token", r"hf_[A-Za-z0-9]{30,40}", "hf_", ("hf_",)),
    _key("npm-token", r"npm_[A-Za-z0-9]{36}", "npm_", ("npm_",)),
    _key("pypi-token", r"pypi-AgE[A-Za-z0-9_-]{50,250}", "pypi-", ("pypi-AgE",)),
    _key("twilio-api-key", r"SK[0-9a-f]{32}", "SK", ("SK",), tier=2, hex_body=True, hashlike=True),
    _key(
        "twilio-account-sid", r"AC[0-9a-f]{32}", "AC", ("AC",), tier=2, hex_body=True, hashlike=True
    ),
    _key("sendgrid-api-key", r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}", "SG.", ("SG.",)),
    _key("shopify-token", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}", "shpat_", ("shp",)),
    _key("digitalocean-token", r"do[opr]_v1_[a-f0-9]{64}", "dop_v1_", ("_v1_",)),
    _key("telegram-bot-token", r"[0-9]{8,10}:AA[A-Za-z0-9_-]{33}", "", (":AA",)),
    _key(
        "mailgun-api-key",
        r"key-[0-9a-f]{32}",
        "key-",
        ("key-",),
        tier=2,
        hex_body=True,
        hashlike=True,
    ),
    _key("square-token", r"sq0(?:atp|csp)-[A-Za-z0-9_-]{22,43}", "sq0atp-", ("sq0",)),
    _key(
        "azure-storage-key",
        r"AccountKey=([A-Za-z0-9+/]{86}==)",
        "",
        ("AccountKey=",),
        groups=(1,),
        validate=_azure_key,
    ),
    _key(
        "jwt",
        r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
        "eyJ",
        ("eyJ",),
        validate=_jwt,
        priority=90,
    ),
]

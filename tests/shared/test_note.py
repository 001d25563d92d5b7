"""C2SP signed notes and checkpoints, against the published examples of other implementations.

Vectors:
* golang.org/x/mod ``sumdb/note/note_test.go``: the PeterNeumann and EnochRoot keys, the signed
  "If you think cryptography..." note, its signature lines, and the malformed notes.
* c2sp.org/signed-note: the ``example.com/foo`` key and note (v1.1.0) and the Quasimodo example;
  c2sp.org/tlog-checkpoint: the ``example.com/behind-the-sofa`` checkpoint.
* sigsum-go ``pkg/checkpoint/checkpoint_test.go``: a checkpoint signed with the seed 17,0,0,...
  (Ed25519 is deterministic, so our bytes must match theirs), and a real checkpoint of the Go
  checksum database, retrieved from sum.golang.org/latest on 2024-09-23, with its public key
  from Go's ``cmd/go/internal/modfetch/key.go``.
* trillian-tessera ``internal/parse`` tests and a Go-sumdb lookup: two more real sum.golang.org
  checkpoints.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.note import (
    MAX_SIGNATURES,
    Checkpoint,
    InvalidSignatureError,
    NoteError,
    Signature,
    Signer,
    UnknownKeyError,
    UnverifiedNoteError,
    Verifier,
    open_checkpoint,
    open_note,
    parse_note,
    sign_checkpoint,
    sign_note,
)

PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdng"
    "otpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWL"
    "ox33WWd1RvMc+QQ=\n"
)

C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_NOTE = (
    "This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXp"
    "pzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)
QUASIMODO_NOTE = (
    "Ognuno sta solo sul cuor della terra\n"
    "trafitto da un raggio di sole:\n"
    "\n"
    "ed \u00e8 subito sera.\n"
    "\n"
    "\u2014 quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMou"
    "FSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
)
SOFA_CHECKPOINT = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhc"
    "yv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_ORIGIN = "go.sum database tree"
SUMDB_CHECKPOINTS = [
    (
        30055305,
        "mXfgRcJ0bG0j3CPdKwgGWtUzBUbX67saZGRmFuJGGsM=",
        "Az3grpgEild5qw7+5dtV13Kf1C2Xurm8q4fhdxvcsDHnqNTaxL2AFjBY+2TyGKevucFcAAlWFJJYle3EJlDCrQ+y3A8=",
    ),
    (
        31700353,
        "qINS1GRFhWHwdkUeqLEoP4yEMkTBBzxBkGwGQlVlVcs=",
        "Az3grnmrIUEDFqHzAElIQCPNoRFRAAdFo47fooyWKMHb89k11GJh5zHIfNCOBmwn/C3YI8oW9/C8DJ87F61QqspBYwM=",
    ),
    (
        65209736,
        "5+uGFjx6xBZG8ip1+wi77v+grwbhhukIrxEUS8PXvRo=",
        "Az3grnbssgK7ubgFX36gVETtNv0U23qxyAhAMai2QUfeGa3nB/akvkMdlUErfcZz7l/R3cVtYspg3dxXABkGZZKdsQ8=",
    ),
]
SIGSUM_CHECKPOINT = (
    "sigsum.org/v1/tree/e796172b92befd62d9dc67e41c2f5bc9d3100a3023b20b1ca40288dd1c679e69\n"
    "10\n"
    "HA5HAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    "\n"
    "\u2014 sigsum.org/v1/tree/e796172b92befd62d9dc67e41c2f5bc9d3100a3023b20b1ca40288dd1c679e69 "
    "gJ2ho0n8F8olcerUF1FFdv235A/5as/coWrpLrtE7ovMeP5whgwouYExowG/lTznxu6OUGjjt5yJQ6bXtTcf718MqAQ=\n"
)

PETER = Verifier(PETER_VKEY)
ENOCH = Verifier(ENOCH_VKEY)
SIGNED = (TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode()


def new_signer(name: str) -> Signer:
    return Signer(name, Ed25519PrivateKey.generate())


# -- keys ----------------------------------------------------------------------------------------


def test_go_key_pair_parses():
    signer = Signer.from_signer_key(PETER_SKEY)
    assert str(signer.verifier) == PETER_VKEY
    assert (PETER.name, PETER.key_id) == ("PeterNeumann", bytes.fromhex("c74f20a3"))
    assert signer.verifier == PETER


def test_c2sp_verifier_key_parses():
    verifier = Verifier(C2SP_VKEY)
    assert verifier.name == "example.com/foo"
    assert verifier.key_id == bytes.fromhex("530d903a")
    assert verifier.public_key == bytes.fromhex(
        "e932791ae6e7a840a46164c904786426d5e7821dd8b29a00d61cae72afdd4da4"
    )
    assert str(verifier) == C2SP_VKEY


def manglings(key: str):
    """note_test.go: every proper substring, and every single character bumped by one."""
    for i in range(len(key) + 1):
        for j in range(i + 1, len(key) + 1):
            if (i, j) != (0, len(key)):
                yield key[i:j]
    for i in range(len(key)):
        yield key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :]


def test_mangled_verifier_keys_are_refused():
    for bad in manglings(PETER_VKEY):
        with pytest.raises(NoteError):
            Verifier(bad)
            pytest.fail(f"accepted {bad!r}")
    # note_test.go: a key of the wrong length and an unknown algorithm, each with its key id
    # adjusted to match.
    for bad in [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ]:
        with pytest.raises(NoteError):
            Verifier(bad)


def test_mangled_signer_keys_are_refused():
    for bad in manglings(PETER_SKEY):
        with pytest.raises(NoteError):
            Signer.from_signer_key(bad)
            pytest.fail(f"accepted {bad!r}")


@pytest.mark.parametrize("name", ["", "a+b", "bad name", "tab\tname", "nbsp\u00a0name"])
def test_invalid_key_names_are_refused(name):
    with pytest.raises(NoteError):
        new_signer(name)


# -- signing -------------------------------------------------------------------------------------


def test_signing_reproduces_go_byte_for_byte():
    signer = Signer.from_signer_key(PETER_SKEY)
    assert sign_note(TEXT, [signer]) == (TEXT + "\n" + PETER_SIG).encode()


def test_signing_a_checkpoint_reproduces_sigsum_byte_for_byte():
    key = Ed25519PrivateKey.from_private_bytes(bytes([17]) + bytes(31))
    signer = Signer("placeholder", key)
    origin = "sigsum.org/v1/tree/" + hashlib.sha256(signer.public_key).hexdigest()
    checkpoint = Checkpoint(origin, 10, bytes([28, 14, 71]) + bytes(29))
    assert sign_checkpoint(checkpoint, [Signer(origin, key)]) == SIGSUM_CHECKPOINT.encode()


@pytest.mark.parametrize("text", ["abc", "", "a\rb\n", "tab\there\n", "bad \ud800 surrogate\n"])
def test_signing_refuses_malformed_text(text):
    with pytest.raises(NoteError):
        sign_note(text, [new_signer("k")])


def test_signing_refuses_no_signer_and_a_repeated_signer():
    signer = new_signer("k")
    with pytest.raises(NoteError):
        sign_note("x\n", [])
    with pytest.raises(NoteError):
        sign_note("x\n", [signer, signer])


def test_text_may_hold_blank_lines():
    signer = new_signer("log.example/k")
    for text in ["\n", "a\n\nb\n", "a\n\n", "\u2014 looks like a signature\n\nx\n"]:
        assert open_note(sign_note(text, [signer]), [signer.verifier]).text == text


# -- opening -------------------------------------------------------------------------------------


def test_c2sp_example_note_verifies():
    opened = open_note(C2SP_NOTE.encode(), [C2SP_VKEY])
    assert opened.text == "This is an example message.\n"
    assert [v.name for v in opened.verified] == ["example.com/foo"]


def test_c2sp_quasimodo_example_parses_at_the_last_blank_line():
    text, signatures = parse_note(QUASIMODO_NOTE.encode())
    assert text == (
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\n"
        "ed \u00e8 subito sera.\n"
    )
    assert [(s.name, s.key_id.hex(), len(s.signature)) for s in signatures] == [
        ("quasimodo.example/salvatore", "367ba04b", 64)
    ]
    assert "".join(s.line() for s in signatures) == QUASIMODO_NOTE.split("\n\n")[-1]
    with pytest.raises(UnverifiedNoteError):
        open_note(QUASIMODO_NOTE.encode(), [PETER])


def test_one_known_signature_is_enough_and_unknown_ones_are_ignored():
    assert open_note(SIGNED, [PETER]) == (TEXT, (PETER,))
    assert open_note(SIGNED, [ENOCH]) == (TEXT, (ENOCH,))
    assert open_note(SIGNED, [PETER, ENOCH, PETER_VKEY]) == (TEXT, (PETER, ENOCH))


def test_unknown_keys_can_be_refused():
    with pytest.raises(UnknownKeyError, match="EnochRoot\\+af0cfe78"):
        open_note(SIGNED, [PETER], reject_unknown=True)
    assert open_note(SIGNED, [PETER, ENOCH], reject_unknown=True).text == TEXT


def test_a_note_signed_only_by_unknown_keys_is_refused():
    with pytest.raises(UnverifiedNoteError, match="no verifiable signatures"):
        open_note(SIGNED, [])
    with pytest.raises(UnverifiedNoteError):
        open_note(SIGNED, [Verifier(C2SP_VKEY)])


def test_a_different_key_under_the_same_name_does_not_count():
    impostor = new_signer("PeterNeumann")
    note = sign_note(TEXT, [impostor])
    with pytest.raises(UnverifiedNoteError):
        open_note(note, [PETER])


def test_a_known_key_with_a_bad_signature_rejects_the_whole_note():
    raw = (PETER_SIG).encode()
    forged = raw[:60] + b"ABCD" + raw[60:]  # note_test.go: "Invalid signature"
    with pytest.raises(InvalidSignatureError, match="PeterNeumann\\+c74f20a3"):
        open_note((TEXT + "\n").encode() + forged + ENOCH_SIG.encode(), [PETER, ENOCH])


def test_tampered_text_is_refused():
    tampered = SIGNED.replace(b"problem is", b"problem was")
    with pytest.raises(InvalidSignatureError):
        open_note(tampered, [PETER])


def test_truncated_signature_is_refused():
    line = PETER_SIG.rstrip("\n")
    with pytest.raises(InvalidSignatureError):  # valid base64, but 3 bytes short
        open_note((TEXT + "\n" + line[:-8] + line[-4:] + "\n").encode(), [PETER])
    with pytest.raises(NoteError):  # not base64 any more
        open_note((TEXT + "\n" + line[:-1] + "\n").encode(), [PETER])


def test_repeated_signatures_are_refused():
    # Go drops repeated lines silently; one key signing twice is malformed here.
    for note in [
        TEXT + "\n" + PETER_SIG + PETER_SIG,
        TEXT + "\n" + PETER_SIG + ENOCH_SIG + ENOCH_SIG,
    ]:
        with pytest.raises(NoteError, match="signs twice"):
            open_note(note.encode(), [PETER])


def test_a_changed_key_id_makes_an_unknown_key():
    wrong_id = PETER_SIG.replace("x08g", "xxxx")  # note_test.go "wrong hash"
    with pytest.raises(UnverifiedNoteError):
        open_note((TEXT + "\n" + wrong_id).encode(), [PETER])


def fake_line(name: str) -> str:
    return Signature(name, b"\x00\x00\x00\x00", bytes(64)).line()


def test_signature_count_is_capped():
    others = [fake_line(f"other{i}") for i in range(MAX_SIGNATURES)]
    at_cap = TEXT + "\n" + PETER_SIG + "".join(others[: MAX_SIGNATURES - 1])
    assert open_note(at_cap.encode(), [PETER]).text == TEXT
    over = TEXT + "\n" + PETER_SIG + "".join(others)
    with pytest.raises(NoteError, match="more than 100"):
        open_note(over.encode(), [PETER])


def test_ambiguous_verifiers_are_refused():
    twin = Verifier(C2SP_VKEY)
    twin.name, twin.key_id = PETER.name, PETER.key_id  # a key id collision, made by hand
    with pytest.raises(NoteError, match="ambiguous key PeterNeumann\\+c74f20a3"):
        open_note(SIGNED, [PETER, twin])


# note_test.go TestOpen "Invalid encoded message syntax", plus our own.
@pytest.mark.parametrize(
    "note",
    [
        TEXT.encode(),
        (TEXT + "\n").encode(),
        (TEXT + "\n" + PETER_SIG[:-1]).encode(),
        ("\x01" + TEXT + "\n" + PETER_SIG).encode(),
        b"\xff" + (TEXT + "\n" + PETER_SIG).encode(),
        (
            TEXT
            + "\n\u2014 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNX"
            "gKvqfqdngotpRZb6KE6RyyBwJnAM="
        ).encode(),
        (TEXT + "\n" + PETER_SIG + "Unexpected line.\n").encode(),
        (TEXT + PETER_SIG).encode(),  # no blank line before the signatures
        (TEXT.replace("\n", "\r\n") + "\r\n" + PETER_SIG).encode(),  # CR LF line ends
        (TEXT + "\n" + PETER_SIG.replace("\n", "\r\n")).encode(),
        (TEXT + "\n" + PETER_SIG.replace("\u2014", "--")).encode(),
        (TEXT + "\n" + PETER_SIG.replace("\u2014 ", "\u2014  ")).encode(),
        (TEXT + "\n" + PETER_SIG.replace("nAM=", "nAN=")).encode(),  # non-canonical base64
        (TEXT + "\n" + PETER_SIG + "\n").encode(),
        (TEXT + "\n").encode() + b"\xe2\x80\x94 PeterNeumann \xed\xa0\x80\n",  # surrogate
        (TEXT + "\n\u2014 k AAAA\n").encode(),  # shorter than a key id and one byte
    ],
)
def test_malformed_notes_are_refused(note):
    with pytest.raises(NoteError) as caught:
        open_note(note, [PETER])
    assert type(caught.value) is NoteError


note_texts = st.text(
    st.characters(blacklist_categories=["Cs"], min_codepoint=0x20) | st.just("\n"), max_size=80
).map(lambda text: text + "\n")


@settings(max_examples=60, deadline=None)
@given(text=note_texts, data=st.data())
def test_any_single_byte_change_is_refused(text, data):
    signer = new_signer("log.example/k")
    note = sign_note(text, [signer])
    assert open_note(note, [signer.verifier]).text == text
    position = data.draw(st.integers(0, len(note) - 1), label="position")
    mask = data.draw(st.integers(1, 255), label="mask")
    changed = bytearray(note)
    changed[position] ^= mask
    with pytest.raises(NoteError):
        open_note(bytes(changed), [signer.verifier])


# -- checkpoints ---------------------------------------------------------------------------------


def test_tlog_checkpoint_example_parses_and_formats_back():
    text, signatures = parse_note(SOFA_CHECKPOINT.encode())
    checkpoint = Checkpoint.parse(text)
    assert checkpoint == Checkpoint(
        "example.com/behind-the-sofa",
        20852163,
        bytes.fromhex("0ac5186a91863e8e1d90c808014aa89bf5da8e3ee1d9f07630f0378f68f1ab62"),
    )
    assert checkpoint.format() == text
    assert [s.name for s in signatures] == ["example.com/behind-the-sofa"]


@pytest.mark.parametrize(("size", "root_b64", "signature"), SUMDB_CHECKPOINTS)
def test_real_go_checksum_database_checkpoints_verify(size, root_b64, signature):
    note = f"{SUMDB_ORIGIN}\n{size}\n{root_b64}\n\n\u2014 sum.golang.org {signature}\n".encode()
    checkpoint = open_checkpoint(note, [SUMDB_VKEY], SUMDB_ORIGIN)
    assert (checkpoint.size, checkpoint.root_hash) == (size, base64.b64decode(root_b64))
    with pytest.raises(InvalidSignatureError):
        open_checkpoint(
            note.replace(b"\n%d\n" % size, b"\n%d\n" % (size + 1)), [SUMDB_VKEY], SUMDB_ORIGIN
        )
    with pytest.raises(NoteError, match="expected"):
        open_checkpoint(note, [SUMDB_VKEY], "sum.golang.org")


def test_checkpoint_round_trip_with_extensions():
    signer = new_signer("optout.example/audit")
    checkpoint = Checkpoint("optout.example/audit", 0, hashlib.sha256(b"").digest(), ["x: y"])
    assert checkpoint.extensions == ("x: y",)
    note = sign_checkpoint(checkpoint, [signer])
    assert note.startswith(
        b"optout.example/audit\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\nx: y\n\n"
    )
    assert open_checkpoint(note, [signer.verifier], "optout.example/audit") == checkpoint


ROOT = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="


@pytest.mark.parametrize(
    "text",
    [
        f"log\n007\n{ROOT}\n",
        f"log\n-1\n{ROOT}\n",
        f"log\n+1\n{ROOT}\n",
        f"log\n 1\n{ROOT}\n",
        f"log\n1_000\n{ROOT}\n",
        f"log\n\u0661\n{ROOT}\n",  # an Arabic-Indic digit, which int() would take
        f"log\n18446744073709551616\n{ROOT}\n",  # 2**64
        f"log\n\n{ROOT}\n",
        f"\n5\n{ROOT}\n",
        "log\n5\nAAAA\n",  # 3 bytes
        f"log\n5\n{ROOT[:-2]}J=\n",  # non-canonical: padding bits set
        f"log\n5\n{ROOT}",
        "log\n5\n",
        f"log\n5\n{ROOT}\n\next\n",
        f"log\r\n5\n{ROOT}\n",
    ],
)
def test_malformed_checkpoints_are_refused(text):
    with pytest.raises(NoteError):
        Checkpoint.parse(text)


def test_largest_size_is_accepted():
    assert Checkpoint.parse(f"log\n18446744073709551615\n{ROOT}\n").size == 2**64 - 1
    assert Checkpoint.parse(f"log\n0\n{ROOT}\n").size == 0


@pytest.mark.parametrize(
    ("origin", "size", "root_hash", "extensions"),
    [
        ("", 1, bytes(32), ()),
        ("a\nb", 1, bytes(32), ()),
        ("log", -1, bytes(32), ()),
        ("log", True, bytes(32), ()),
        ("log", 1, bytes(31), ()),
        ("log", 1, bytes(32), ("",)),
        ("log", 1, bytes(32), ("a\nb",)),
    ],
)
def test_invalid_checkpoints_cannot_be_built(origin, size, root_hash, extensions):
    with pytest.raises(NoteError):
        Checkpoint(origin, size, root_hash, extensions)


checkpoints = st.builds(
    Checkpoint,
    origin=st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=30),
    size=st.integers(0, 2**64 - 1),
    root_hash=st.binary(min_size=32, max_size=32),
    extensions=st.lists(
        st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=10),
        max_size=3,
    ),
)


@settings(max_examples=60, deadline=None)
@given(checkpoint=checkpoints)
def test_checkpoints_format_and_parse_back(checkpoint):
    assert Checkpoint.parse(checkpoint.format()) == checkpoint

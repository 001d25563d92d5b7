import base64
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.keys import (
    KeyFileError,
    create_private_key,
    load_private_key,
    public_bytes,
    verifier_key,
)


def test_verifier_key_matches_go_signed_note_vector():
    # golang.org/x/mod/sumdb/note: note_test.go, skey/vkey of "PeterNeumann".
    seed = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
    key = Ed25519PrivateKey.from_private_bytes(seed)
    assert verifier_key("PeterNeumann", public_bytes(key)) == (
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    )


@pytest.mark.parametrize("name", ["", "a+b", "a b"])
def test_verifier_key_refuses_bad_names(name):
    with pytest.raises(ValueError):
        verifier_key(name, b"\x00" * 32)


def test_key_file_is_private_and_never_overwritten(tmp_path):
    path = tmp_path / "keys" / "signing.key"
    key = create_private_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert public_bytes(load_private_key(path)) == public_bytes(key)
    with pytest.raises(FileExistsError):
        create_private_key(path)


def test_loading_refuses_open_or_missing_or_foreign_files(tmp_path):
    path = tmp_path / "signing.key"
    create_private_key(path)
    path.chmod(0o640)
    with pytest.raises(KeyFileError, match="readable by others"):
        load_private_key(path)
    with pytest.raises(KeyFileError, match="cannot read"):
        load_private_key(tmp_path / "absent.key")

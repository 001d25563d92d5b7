"""What the app keeps between runs: settings (QSettings, INI), the token if asked, and the
audit log state it last verified.

Everything lives under one configuration folder, given explicitly, so that tests and several
profiles never touch the user's own settings. The token is kept only when the reviewer asks:
in the system keyring when the app is given one (Secret Service, macOS Keychain, Windows
Credential Locker; ``system_keyring``), otherwise in a file only its owner can read (0600),
and it is deleted from both when they stop asking.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

log = logging.getLogger(__name__)
KEYRING_SERVICE = "optout-desktop"  # one entry per server address


def system_keyring():
    """The user's keyring backend, or None when there is no usable one (or no keyring).

    Headless machines and CI have only keyring's "fail" backend: the token file is used.
    """
    try:
        import keyring
        from keyring.backends import fail, null
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # noqa: BLE001 - a broken keyring configuration: use the file
        return None
    if isinstance(backend, fail.Keyring | null.Keyring) or getattr(backend, "backends", 1) == []:
        return None
    return backend


def default_config_dir() -> Path:
    """The per-user configuration folder (``$OPTOUT_DESKTOP_CONFIG`` overrides it)."""
    override = os.environ.get("OPTOUT_DESKTOP_CONFIG")
    if override:
        return Path(override)
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    return Path(base or Path.home() / ".config") / "optout-desktop"


class Store:
    """Settings, the remembered token, and per-server audit state in ``folder``."""

    def __init__(self, folder: Path, keyring=None):
        self.folder = Path(folder)
        self.keyring = keyring  # a keyring backend (system_keyring()), or None: the file
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)  # it may hold the token
        self.settings = QSettings(str(self.folder / "settings.ini"), QSettings.Format.IniFormat)

    # -- plain values -------------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        value = self.settings.value(key, default)
        return default if value is None else value

    def get_json(self, key: str, default: Any = None) -> Any:
        raw = self.settings.value(key)
        if not raw:
            return default
        try:
            return json.loads(raw)
        except (TypeError, ValueError):
            return default

    def set(self, key: str, value: Any) -> None:
        self.settings.setValue(key, value)

    def set_json(self, key: str, value: Any) -> None:
        self.settings.setValue(key, json.dumps(value, sort_keys=True))

    def get_bytes(self, key: str) -> QByteArray | None:
        value = self.settings.value(key)
        return value if isinstance(value, QByteArray) else None

    def sync(self) -> None:
        self.settings.sync()

    # -- the token ----------------------------------------------------------------------

    @property
    def token_file(self) -> Path:
        return self.folder / "token"

    @property
    def token_place(self) -> str:
        """Where a remembered token goes, in words for the reviewer."""
        if self.keyring is not None:
            return "in the system keyring"
        return "in a file only you can read"

    def save_token(self, server: str, token: str) -> None:
        """Keep ``token`` for ``server``: in the keyring if there is one, else a 0600 file."""
        if self.keyring is not None:
            try:
                self.keyring.set_password(KEYRING_SERVICE, server, token)
            except Exception as error:  # noqa: BLE001 - locked or refused: use the file
                log.warning("the keyring did not take the token (%s); it goes to %s",
                            type(error).__name__, self.token_file)  # fmt: skip
            else:
                self.token_file.unlink(missing_ok=True)  # one place only
                return
        data = json.dumps({"server": server, "token": token}).encode()
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".token.")  # mkstemp: mode 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, self.token_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load_token(self, server: str) -> str | None:
        """The kept token for ``server``: from the keyring, else from the file (None if the
        file is readable by others)."""
        if self.keyring is not None:
            try:
                token = self.keyring.get_password(KEYRING_SERVICE, server)
            except Exception:  # noqa: BLE001 - a locked keyring: try the file
                token = None
            if token:
                return token
        path = self.token_file
        if not path.exists() or path.stat().st_mode & 0o077:
            return None
        try:
            data = json.loads(path.read_text())
        except ValueError:
            return None
        return data.get("token") if data.get("server") == server else None

    def forget_token(self, server: str | None = None) -> None:
        """Delete the kept token: the file, and ``server``'s keyring entry."""
        self.token_file.unlink(missing_ok=True)
        if self.keyring is not None and server:
            with contextlib.suppress(Exception):  # nothing kept there: PasswordDeleteError
                self.keyring.delete_password(KEYRING_SERVICE, server)

    # -- audit state --------------------------------------------------------------------

    def audit_state_path(self, server: str) -> Path:
        """Where the last verified checkpoint of ``server``'s log is kept."""
        digest = hashlib.sha256(server.rstrip("/").encode()).hexdigest()[:16]
        return self.folder / "audit" / f"{digest}.json"

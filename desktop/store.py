"""What the app keeps between runs: settings (QSettings, INI), the token if asked, and the
audit log state it last verified.

Everything lives under one configuration folder, given explicitly, so that tests and several
profiles never touch the user's own settings. The token is written only when the reviewer
asks, to a file only its owner can read (0600), and deleted when they stop asking.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths


def default_config_dir() -> Path:
    """The per-user configuration folder (``$OPTOUT_DESKTOP_CONFIG`` overrides it)."""
    override = os.environ.get("OPTOUT_DESKTOP_CONFIG")
    if override:
        return Path(override)
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    return Path(base or Path.home() / ".config") / "optout-desktop"


class Store:
    """Settings, the remembered token, and per-server audit state in ``folder``."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
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

    def save_token(self, server: str, token: str) -> None:
        """Write ``server`` and ``token`` to a file created with mode 0600."""
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
        """The saved token for ``server``; None if none, or if the file is readable by others."""
        path = self.token_file
        if not path.exists() or path.stat().st_mode & 0o077:
            return None
        try:
            data = json.loads(path.read_text())
        except ValueError:
            return None
        return data.get("token") if data.get("server") == server else None

    def forget_token(self) -> None:
        self.token_file.unlink(missing_ok=True)

    # -- audit state --------------------------------------------------------------------

    def audit_state_path(self, server: str) -> Path:
        """Where the last verified checkpoint of ``server``'s log is kept."""
        digest = hashlib.sha256(server.rstrip("/").encode()).hexdigest()[:16]
        return self.folder / "audit" / f"{digest}.json"

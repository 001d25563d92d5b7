"""Where the remembered token goes: the system keyring when there is one, else a 0600 file."""

from __future__ import annotations

import stat

import keyring
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import KeyringLocked, PasswordDeleteError

from desktop.store import KEYRING_SERVICE, Store, system_keyring
from tests.desktop.conftest import connect, idle


class MemoryKeyring(KeyringBackend):
    """A real keyring backend (keyring's API) that keeps entries in memory."""

    priority = 1

    def __init__(self, locked: bool = False):
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}
        self.locked = locked

    def set_password(self, service, username, password):
        if self.locked:
            raise KeyringLocked("the keyring is locked")
        self.entries[service, username] = password

    def get_password(self, service, username):
        if self.locked:
            raise KeyringLocked("the keyring is locked")
        return self.entries.get((service, username))

    def delete_password(self, service, username):
        if (service, username) not in self.entries:
            raise PasswordDeleteError("no such entry")
        del self.entries[service, username]


def test_with_a_keyring_the_token_never_touches_the_disk(tmp_path):
    ring = MemoryKeyring()
    store = Store(tmp_path / "cfg", ring)
    store.save_token("https://optout.example", "optu_secret")
    assert ring.entries == {(KEYRING_SERVICE, "https://optout.example"): "optu_secret"}
    assert not store.token_file.exists()
    assert store.load_token("https://optout.example") == "optu_secret"
    assert store.load_token("https://elsewhere.example") is None
    assert "keyring" in store.token_place
    store.forget_token("https://optout.example")
    assert ring.entries == {} and store.load_token("https://optout.example") is None
    store.forget_token("https://optout.example")  # nothing left: no error


def test_a_token_file_from_before_moves_to_the_keyring(tmp_path):
    Store(tmp_path / "cfg").save_token("https://optout.example", "optu_old")
    ring = MemoryKeyring()
    store = Store(tmp_path / "cfg", ring)
    assert store.load_token("https://optout.example") == "optu_old"  # still readable
    store.save_token("https://optout.example", "optu_new")
    assert not store.token_file.exists()
    assert store.load_token("https://optout.example") == "optu_new"


def test_a_locked_keyring_falls_back_to_the_private_file(tmp_path, caplog):
    store = Store(tmp_path / "cfg", MemoryKeyring(locked=True))
    store.save_token("https://optout.example", "optu_secret")
    assert stat.S_IMODE(store.token_file.stat().st_mode) == 0o600
    assert store.load_token("https://optout.example") == "optu_secret"
    assert "KeyringLocked" in caplog.text and "optu_secret" not in caplog.text


def test_without_a_usable_keyring_the_app_uses_the_file(monkeypatch):
    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    assert system_keyring() is None
    ring = MemoryKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: ring)
    assert system_keyring() is ring


def test_the_window_remembers_the_token_in_the_keyring(qtbot, live_server, demo, config_dir):
    from desktop.app import build_window

    ring = MemoryKeyring()
    window = build_window(config_dir, keyring=ring)
    qtbot.addWidget(window)
    assert "system keyring" in window.connect_view.remember.text()
    connect(qtbot, window, live_server, demo["reviewer"], remember=True)
    assert ring.entries == {(KEYRING_SERVICE, live_server): demo["reviewer"]}
    assert not Store(config_dir).token_file.exists()
    again = build_window(config_dir, keyring=ring)  # connects by itself
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.ctx.session is not None, timeout=10_000)
    idle(qtbot, again)
    connect(qtbot, again, live_server, demo["reviewer"], remember=False)
    assert ring.entries == {}
    window.runner.wait(10_000)
    again.runner.wait(10_000)


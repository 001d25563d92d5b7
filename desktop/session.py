"""A connection to one server as one user: the API client per worker thread, and who we are."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from shared.client import OptoutClient
from shared.states import ADMIN, PUBLISHER


@dataclass
class Session:
    """``server`` and ``token``, and once connected the user's ``name`` and ``role``.

    ``client()`` gives each thread its own HTTP session: ``requests.Session`` is not meant to
    be shared between threads that use it at the same time.
    """

    server: str
    token: str
    name: str = ""
    role: str = ""
    _local: threading.local = field(default_factory=threading.local, repr=False)
    _clients: list[OptoutClient] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def client(self) -> OptoutClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = OptoutClient(self.server, self.token, timeout=(5.0, 60.0))
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    @property
    def can_publish(self) -> bool:
        return self.role in (PUBLISHER, ADMIN)

    def close(self) -> None:
        with self._lock:
            for client in self._clients:
                client.session.close()
            self._clients.clear()


def connect(server: str, token: str) -> Session:
    """Check the token with ``/me`` (in a worker thread) and return the session."""
    session = Session(server.strip().rstrip("/"), token.strip())
    me = session.client().me()
    session.name = me.get("name") or me.get("actor") or ""
    session.role = me.get("role", "")
    return session

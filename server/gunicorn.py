"""Run the app under gunicorn, the production WSGI server, from ``optout serve``."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

# The path without the query string: secrets never travel in URLs, and nothing in a
# query string is worth logging.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'


class OptoutServer(BaseApplication):
    """Gunicorn application that builds one Flask app per worker after the fork."""

    def __init__(self, options: dict, threads: int):
        self.options = options
        self.threads = threads
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from server import create_app, sequencer

        global _sequencer
        # Every thread may hold a pooled connection, and so may the sequencer.
        app = create_app({"SERVER_THREADS": self.threads})
        _sequencer = sequencer.start(app)
        return app


_sequencer = None


def _worker_exit(_server, _worker) -> None:
    """Sequence what this worker queued before it goes (the next sequencer would, anyway)."""
    if _sequencer is not None:
        _sequencer.stop()


def run(host: str, port: int, workers: int, threads: int) -> None:
    OptoutServer(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
            "accesslog": "-",
            "access_log_format": ACCESS_LOG_FORMAT,
            "timeout": 30,
            # Twice gunicorn's default: every query the OpenAPI spec allows fits.
            "limit_request_line": 8190,
            "graceful_timeout": 10,
            "proc_name": "optout",
            # The control socket lives at one fixed path per user; two instances would collide.
            "control_socket_disable": True,
            "worker_exit": _worker_exit,
        },
        threads,
    ).run()

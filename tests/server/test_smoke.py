import threading

import pytest
import requests
from werkzeug.serving import make_server


def test_health(api):
    assert api().health() == {"status": "ok"}


def test_submit_and_read(api, factory):
    receipt = api().submit("repository", "GitHub.com", "Foo", name="bar.git")
    assert receipt["request"]["host"] == "github.com"
    owner = api(receipt["status_token"])
    got = owner.get_request(receipt["request"]["id"])
    assert got.data["history"][0]["to_state"] == "received"


@pytest.mark.parametrize("url", [
    "postgresql://postgres@127.0.0.1:1/test",  # nothing listens on port 1
    "sqlite:////nonexistent-dir/optout.db",
])
def test_an_unreachable_database_is_a_503_not_a_500(url, instance, caplog):
    from server import create_app

    app = create_app({"DATABASE_URL": url, "RATELIMIT_ENABLED": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}/api/v1"
    try:
        for resp in (requests.get(f"{base}/health", timeout=20),
                     requests.post(f"{base}/requests", timeout=20,
                                   json={"kind": "owner", "host": "github.com", "owner": "o"})):
            assert resp.status_code == 503, resp.text
            assert resp.json()["error"]["code"] == "database_unavailable"
            assert resp.headers["Retry-After"] == "5"
    finally:
        server.shutdown()
        thread.join(5)
    assert "Traceback" not in caplog.text
    reason = "Connection refused" if url.startswith("postgresql") else "unable to open database"
    assert "database unavailable: OperationalError:" in caplog.text and reason in caplog.text

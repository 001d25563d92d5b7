def test_health(api):
    assert api().health() == {"status": "ok"}


def test_submit_and_read(api, factory):
    receipt = api().submit("repository", "GitHub.com", "Foo", name="bar.git")
    assert receipt["request"]["host"] == "github.com"
    owner = api(receipt["status_token"])
    got = owner.get_request(receipt["request"]["id"])
    assert got.data["history"][0]["to_state"] == "received"

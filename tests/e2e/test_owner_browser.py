"""An owner's whole journey in headless Chromium (JavaScript off), against real servers.

Look up the account, submit on the form, confirm the scope, place the challenge file on a
forge served over HTTP on loopback, get verified; a reviewer approves through the JSON API
with `requests`; the owner sees "approved". Set OPTOUT_UPDATE_SCREENSHOTS=1 to refresh the
screenshots in docs/screenshots (the README shows them); otherwise they go to a temp dir.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest
import requests

from tests.server.forge import running_forge

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PATH = ".well-known/optout-challenge.txt"

# No skip when Chromium is missing: ./dev test installs it, and a silent skip would hide a
# broken set-up.
pytestmark = pytest.mark.slow


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        context = chromium.new_context(
            java_script_enabled=False, viewport={"width": 1000, "height": 900}
        )
        try:
            yield context.new_page()
        finally:
            context.close()
            chromium.close()


@pytest.fixture
def shots(tmp_path):
    target = DOCS if os.environ.get("OPTOUT_UPDATE_SCREENSHOTS") else tmp_path

    def shot(page, name):
        target.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target / f"{name}.png"), full_page=True)

    return shot


@pytest.fixture
def forge(app):
    with running_forge() as running:
        app.config.update(
            RAW_URL_TEMPLATES={"github.com": running.url + "/{owner}/{name}/raw/{path}"},
            FETCH_ALLOW_PRIVATE=True,  # the forge is on loopback
        )
        yield running


@pytest.fixture
def catalog(app):
    from server.workflows.catalog import load_catalog

    lines = [
        {"host": "github.com", "owner": "Octo-Org", "name": n, "release": r, "files": f}
        for r in ("stack-2026-05", "stack-2026-11")
        for n, f in (("hello-world", 42), ("tools", 17))
    ]
    load_catalog(io.StringIO("\n".join(json.dumps(x) for x in lines)))


def test_owner_journey_in_chromium(browser, live_server, forge, catalog, factory, shots):
    page = browser
    page.goto(live_server + "/")
    shots(page, "1-start")

    # Am I in the dataset?
    page.get_by_label("Account or repository").fill("https://github.com/octo-org/hello-world")
    page.get_by_role("button", name="Look up").click()
    assert "stack-2026-11" in page.content() and "stack-2026-05" in page.content()
    shots(page, "2-lookup")

    # Ask for removal: the form comes pre-filled from the lookup.
    page.click("#ask")
    assert page.get_by_label("Addresses, one per line").input_value() == (
        "github.com/octo-org/hello-world"
    )
    shots(page, "3-form")
    page.get_by_role("button", name="Continue").click()
    assert "Received: please confirm" in page.content()
    shots(page, "4-receipt")
    link = page.locator("a.status-link").first.get_attribute("href")

    # Confirm the scope exactly as shown.
    page.goto(link)
    assert page.locator("#scope").inner_text() == "the repository github.com/octo-org/hello-world"
    page.get_by_role("button", name="Confirm this scope").click()
    assert page.locator("#state").text_content() == "confirmed"

    # Prove authority: put the token in the repository on the forge, then check.
    page.get_by_role("button", name="Get a verification token").click()
    token = page.locator("#token-1").inner_text().strip()
    shots(page, "5-challenge")
    forge.put(f"/octo-org/hello-world/raw/{PATH}", f"{token}\n")
    page.get_by_role("button", name="Check now").click()
    assert page.locator("#state").text_content() == "verified"
    assert "Token found" in page.content()

    # A reviewer approves through the JSON API, with requests.
    _user, reviewer_token = factory.user("reviewer")
    auth = {"Authorization": f"Bearer {reviewer_token}"}
    listed = requests.get(
        f"{live_server}/api/v1/requests", params={"state": "verified"}, headers=auth, timeout=10
    ).json()
    (item,) = listed["items"]
    approved = requests.post(
        f"{live_server}/api/v1/requests/{item['id']}/transitions",
        json={"to": "approved"},
        headers={**auth, "If-Match": f'"{item["etag"]}"'},
        timeout=10,
    )
    assert approved.status_code == 200, approved.text

    page.goto(link)
    assert page.locator("#state").text_content() == "approved"
    assert "The next published exclusion list will enact it" in page.content()
    shots(page, "6-approved")


def test_form_errors_in_chromium(browser, live_server, shots):
    page = browser
    page.goto(live_server + "/requests/new")
    page.get_by_label("Addresses, one per line").fill(
        "https://github.com/octo/ok\njavascript:alert(1)\nhttps://github.com/octo/x/tree/main/docs"
    )
    page.get_by_role("button", name="Continue").click()
    errors = page.locator("#scopes-error").inner_text()
    assert "Line 2" in errors and "Line 3" in errors
    assert page.get_by_label("Addresses, one per line").get_attribute("aria-invalid") == "true"
    shots(page, "form-errors")

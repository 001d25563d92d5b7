"""The PII inspector, the license panel, publishing and the audit view, against the real server
on loopback; the audit test corrupts the server's log as an operator with database access could.
"""

from __future__ import annotations

import json

import pytest

from server.models import ExclusionList, LicensedRepository, PiiDecision, Request
from shared import states
from tests.audit_log import audit_records
from tests.desktop.conftest import connect, idle
from tests.desktop.demo import PII_TEXT

EMAIL = "mariana.kowalczyk@posteo.de"


def show_tab(qtbot, win, view) -> None:
    win.tabs.setCurrentWidget(view)
    idle(qtbot, win)


def test_pii_findings_are_masked_until_revealed_with_a_reason(qtbot, window, live_server, demo,
                                                              qtmodeltester):
    connect(qtbot, window, live_server, demo["reviewer"])
    pii = window.pii
    show_tab(qtbot, window, pii)
    qtbot.waitUntil(lambda: pii.current is not None, timeout=10_000)
    idle(qtbot, window)
    qtmodeltester.check(pii.model)
    assert pii.total == len(pii.model.rows) >= 3
    # Filter by kind: the e-mail addresses only.
    pii.kind.setCurrentText("email")
    qtbot.waitUntil(lambda: bool(pii.model.rows)
                    and all(r["kind"] == "email" for r in pii.model.rows))
    idle(qtbot, window)
    email_row = next(i for i, r in enumerate(pii.model.rows) if r["line"] == 4)
    pii.table.selectRow(email_row)
    finding_id = pii.model.row(email_row)["id"]
    qtbot.waitUntil(lambda: pii.current is not None and pii.current["id"] == finding_id)
    idle(qtbot, window)
    assert EMAIL not in pii.context.toPlainText()
    assert "masked" in pii.state.text()
    assert pii.highlighted_text() == pii.current["masked"]
    assert len(pii.context.extraSelections()) == 1
    # Revealing needs a reason; the server logs it.
    assert not pii.reveal_button.isEnabled()
    qtbot.keyClicks(pii.reason, "owner asked which address leaks")
    assert pii.reveal_button.isEnabled()
    pii.reveal_button.click()
    qtbot.waitUntil(lambda: pii.revealed, timeout=10_000)
    idle(qtbot, window)
    assert EMAIL in pii.context.toPlainText() and "REVEALED" in pii.state.text()
    assert pii.highlighted_text() == EMAIL
    assert pii.context.toPlainText() in PII_TEXT
    reveals = [r for r in audit_records() if r.action == "pii.revealed"]
    assert len(reveals) == 1 and reveals[0].subject == f"pii_finding:{finding_id}"
    pii.mask_button.click()
    assert EMAIL not in pii.context.toPlainText()


def test_pii_decisions_one_by_one_and_in_bulk(qtbot, window, live_server, demo):
    connect(qtbot, window, live_server, demo["reviewer"])
    pii = window.pii
    show_tab(qtbot, window, pii)
    qtbot.waitUntil(lambda: pii.current is not None, timeout=10_000)
    idle(qtbot, window)
    first = pii.current
    pii.confirm_button.click()  # nothing checked: the current finding
    qtbot.waitUntil(lambda: PiiDecision.select().count() == 1, timeout=10_000)
    idle(qtbot, window)
    decision = PiiDecision.get()
    assert (decision.fingerprint, decision.rule, decision.decision) == (
        first["fingerprint"], first["rule"], "confirmed")
    pii.check_all.setChecked(True)
    assert len(pii.model.checked_rows()) == len(pii.model.rows)
    pii.false_button.click()
    count = len({(r["fingerprint"], r["rule"]) for r in pii.model.rows})
    qtbot.waitUntil(
        lambda: PiiDecision.select().where(PiiDecision.decision == "false_positive").count()
        == count, timeout=10_000)
    idle(qtbot, window)
    qtbot.waitUntil(lambda: all(r["decision"]["decision"] == "false_positive"
                                for r in pii.model.rows))
    # The undecided filter now finds nothing.
    pii.decision.setCurrentText("undecided")
    qtbot.waitUntil(lambda: pii.total == 0, timeout=10_000)
    idle(qtbot, window)


def test_license_override_with_a_reason(qtbot, window, live_server, demo, qtmodeltester, api,
                                        factory):
    connect(qtbot, window, live_server, demo["reviewer"])
    panel = window.licenses
    show_tab(qtbot, window, panel)
    qtbot.waitUntil(lambda: panel.record is not None, timeout=10_000)
    idle(qtbot, window)
    for model in (panel.repositories, panel.evidence, panel.history):
        qtmodeltester.check(model)
    row = next(i for i, r in enumerate(panel.repositories.rows) if r["name"] == "hello")
    panel.list_view.selectRow(row)
    qtbot.waitUntil(lambda: panel.record["name"] == "hello", timeout=10_000)
    idle(qtbot, window)
    assert "MIT" in panel.title.text() and "permissive" in panel.title.text()
    assert [e["path"] for e in panel.evidence.rows] == ["LICENSE", "src/util.c"]
    assert panel.evidence.data(panel.evidence.index(0, 2)) == "0.99"
    # Without a reason nothing is sent.
    panel.verdict.setCurrentText("non_permissive")
    panel.override_button.click()
    assert "needs a reason" in panel.hint.text()
    # Someone overrides first: the panel reloads and keeps what was typed.
    other = api(factory.user(states.REVIEWER, name="carol")[1])
    current = other.get_license("github.com", "octocat", "hello")
    other.override_license("github.com", "octocat", "hello", current.etag,
                           "re-read the file", verdict="unknown")
    qtbot.keyClicks(panel.reason, "the LICENSE file adds a non-commercial clause")
    panel.override_button.click()
    qtbot.waitUntil(lambda: panel.notice.isVisible(), timeout=10_000)
    qtbot.waitUntil(lambda: panel.record["current"]["verdict"] == "unknown", timeout=10_000)
    idle(qtbot, window)
    assert panel.reason.reason() == "the LICENSE file adds a non-commercial clause"
    assert panel.verdict.currentText() == "non_permissive"
    panel.override_button.click()
    qtbot.waitUntil(lambda: panel.record["current"]["verdict"] == "non_permissive",
                    timeout=10_000)
    idle(qtbot, window)
    repo = LicensedRepository.get(LicensedRepository.name == "hello")
    assert panel.record["current"]["source"] == "override"
    assert panel.record["current"]["reason"] == "the LICENSE file adds a non-commercial clause"
    assert panel.reason.reason() == ""
    assert repo.id is not None
    listed = next(r for r in panel.repositories.rows if r["name"] == "hello")
    assert listed["current"]["verdict"] == "non_permissive"


def test_publish_needs_the_publisher_role_and_a_typed_confirmation(
        qtbot, window, live_server, demo, qtmodeltester):
    connect(qtbot, window, live_server, demo["reviewer"])
    assert not window.tabs.isTabEnabled(window.tabs.indexOf(window.publish))
    window.ctx.set_session(None)
    connect(qtbot, window, live_server, demo["publisher"])
    view = window.publish
    assert window.tabs.isTabEnabled(window.tabs.indexOf(view))
    show_tab(qtbot, window, view)
    qtbot.waitUntil(lambda: view.preview is not None, timeout=10_000)
    idle(qtbot, window)
    qtmodeltester.check(view.diff)
    approved = {r.id for r in Request.select().where(Request.state == states.APPROVED)}
    assert set(view.preview["requests_to_publish"]) == approved
    rules = {view.diff.data(view.diff.index(r, 2)) for r in range(view.diff.rowCount())}
    assert "github.com/old-account/archive" in rules and "codeberg.org/quiet-dev" in rules
    assert "2 rule(s) added" in view.summary.text() or "3 rule(s) added" in view.summary.text()
    assert not view.publish_button.isEnabled()
    qtbot.keyClicks(view.confirm, "publis")
    assert not view.publish_button.isEnabled()
    qtbot.keyClicks(view.confirm, "h")
    assert view.publish_button.isEnabled()
    view.publish_button.click()
    qtbot.waitUntil(lambda: view.result.toPlainText() != "", timeout=15_000)
    idle(qtbot, window)
    published = ExclusionList.get()
    assert f"Published version {published.version}" in view.summary.text()
    assert view.result.toPlainText() == published.note
    assert all(Request.get_by_id(i).state == states.PUBLISHED for i in approved)
    assert view.confirm.text() == "" and not view.publish_button.isEnabled()


def verify(qtbot, win, rows=()):
    view = win.audit
    view.table.clearSelection()
    for row in rows:
        view.table.selectionModel().select(
            view.entries.index(row, 0),
            view.table.selectionModel().SelectionFlag.Select
            | view.table.selectionModel().SelectionFlag.Rows)
    view.verify_button.click()
    qtbot.waitUntil(lambda: view.status.text() != "Verifying…", timeout=15_000)
    idle(qtbot, win)


@pytest.mark.parametrize("corruption", ["truncated", "entry-rewritten"])
def test_audit_verify_then_tamper_warning(qtbot, window, live_server, demo, config_dir,
                                          qtmodeltester, api, corruption):
    from tests.server.test_log_tamper import flip_byte, truncate

    connect(qtbot, window, live_server, demo["reviewer"])
    view = window.audit
    show_tab(qtbot, window, view)
    qtbot.waitUntil(lambda: bool(view.entries.rows), timeout=10_000)
    idle(qtbot, window)
    qtmodeltester.check(view.entries)
    assert view.checkpoint.toPlainText().startswith("optout.localhost/audit\n")
    # First run: the key is pinned; the state is kept in the app's folder.
    verify(qtbot, window)
    assert view.status.text().startswith("<b>Verified</b>") and "pinned" in view.status.text()
    state_file = window.store.audit_state_path(live_server)
    first = json.loads(state_file.read_text())
    # The log grows; the next run checks consistency with what was seen, and inclusion.
    reviewer = api(demo["reviewer"])
    request_id = demo["requests"][("repository", states.VERIFIED)]
    reviewer.transition(request_id, states.APPROVED, reviewer.get_request(request_id).etag)
    view.refresh()
    idle(qtbot, window)
    verify(qtbot, window, rows=[0, len(view.entries.rows) - 1])
    assert f"consistent with the {first['size']} entries" in view.status.text()
    assert "2 chosen entries proved included" in view.status.text()
    assert not view.warning.isVisible()
    # An operator changes the stored log.
    if corruption == "truncated":
        truncate(2)
        expected = "rollback"
    else:
        oldest = view.entries.rows[-1]["index"]
        flip_byte(oldest, offset=30)
        expected = "not_included"
    view.refresh()
    idle(qtbot, window)
    verify(qtbot, window, rows=[len(view.entries.rows) - 1])
    assert view.warning.isVisible()
    assert "THE SERVER'S AUDIT HISTORY CHANGED" in view.warning.text()
    assert f"({expected})" in view.warning.text()
    assert window.banner.isVisible() and window.banner.level == "alarm"
    # The state verified before is kept as it was: the warning stays on the next run.
    saved = json.loads(state_file.read_text())
    assert saved["size"] > first["size"]
    verify(qtbot, window, rows=[len(view.entries.rows) - 1])
    assert view.warning.isVisible()


def test_the_license_list_says_how_many_and_loads_the_rest(qtbot, window, live_server, demo,
                                                           qtmodeltester):
    from flask import current_app

    from tests.desktop.demo import license_scan

    scans = [{"host": "codeberg.org", "owner": f"user{n:03d}", "name": "repo",
              "scan": license_scan("MIT", [("LICENSE", "MIT", 0.99)])} for n in range(230)]
    publisher = {"Authorization": f"Bearer {demo['publisher']}"}
    resp = current_app.test_client().post("/api/v1/licenses/scans", json={"scans": scans},
                                          headers=publisher)
    assert resp.status_code == 200, resp.get_json()
    connect(qtbot, window, live_server, demo["reviewer"])
    panel = window.licenses
    show_tab(qtbot, window, panel)
    qtbot.waitUntil(lambda: panel.total == 234, timeout=10_000)
    idle(qtbot, window)
    assert len(panel.repositories.rows) == 200 and panel.more_button.isEnabled()
    assert panel.summary.text() == "200 of 234 repositories"
    panel.more_button.click()
    qtbot.waitUntil(lambda: len(panel.repositories.rows) == 234, timeout=10_000)
    idle(qtbot, window)
    keys = [(r["host"], r["owner"], r["name"]) for r in panel.repositories.rows]
    assert len(set(keys)) == 234 and not panel.more_button.isEnabled()
    assert panel.summary.text() == "234 of 234 repositories"
    qtmodeltester.check(panel.repositories)

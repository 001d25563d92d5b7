"""The intake view against the real server on loopback: propose from a pasted message (the
scope parser's path, no model installed), the spans and abstentions, the confirmation that
stands between a proposal and a request, and server errors in the banner."""

from __future__ import annotations

from PySide6.QtCore import Qt

from desktop.intake_model import FIELD_COLUMNS, NOT_SAID, can_submit
from server.models import Request
from shared.intake import MAX_TEXT
from tests.desktop.conftest import connect, idle

# Leading blanks and an emoji (two UTF-16 units in Qt's document)
# come before the spans: both shift offsets if handled wrongly.
MESSAGE = (
    "  \n👋 Hello, I maintain https://github.com/octocat/hello-world and would like it out of "
    "the dataset.\nThanks, Mona"
)
URL = "https://github.com/octocat/hello-world"
BARE = "Could you take kelnor/ledger out please? It has my old e-mail in it."


def open_intake(qtbot, win, live_server, token):
    connect(qtbot, win, live_server, token)
    intake_action = win.view_actions[win.tabs.indexOf(win.intake)]
    assert intake_action.shortcut().toString() == "Ctrl+6"
    intake_action.trigger()
    assert win.tabs.currentWidget() is win.intake
    idle(qtbot, win)
    return win.intake


def propose(qtbot, win, view, text: str) -> None:
    view.message.setPlainText(text)
    view.message.setFocus()
    qtbot.keyClick(view.message, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: view.result is not None or win.banner.isVisible(), timeout=10_000)
    idle(qtbot, win)


def requests_count(api, token) -> int:
    return api(token).list_requests(per_page=1)["total"]


def test_propose_from_a_url_shows_fields_spans_and_the_parser_only_banner(
    qtbot, window, live_server, demo, qtmodeltester
):
    view = open_intake(qtbot, window, live_server, demo["reviewer"])
    propose(qtbot, window, view, MESSAGE)
    qtmodeltester.check(view.model)
    assert view.result["mode"] == "parser" and view.result["submitted"] is False
    # No model on this server: said in the view's banner.
    assert view.model_banner.isVisible()
    assert "parser only" in view.model_banner.label.text()
    assert "No model" in view.answers.toPlainText()
    [row] = view.model.rows
    assert row["kind"] == "repository"
    cell = lambda column: view.model.data(view.model.index(0, column))  # noqa: E731
    assert cell(FIELD_COLUMNS["owner"]) == "octocat · 100%"
    assert cell(FIELD_COLUMNS["name"]) == "hello-world · 100%"
    assert cell(FIELD_COLUMNS["path"]) == NOT_SAID  # an abstention, shown as one
    assert view.model.data(view.model.index(0, FIELD_COLUMNS["path"]),
                           Qt.ItemDataRole.FontRole).italic()  # fmt: skip
    assert view.infos["owner"].text().startswith("100% · parser · from “https://github.com")
    assert NOT_SAID in view.infos["path"].text()
    # Selecting a field's cell highlights the words it was read from, in the message.
    view.select_row(0, FIELD_COLUMNS["owner"])
    assert view.highlighted_text() == URL
    selections = view.message.extraSelections()
    assert len(selections) == 3
    last = selections[-1]
    cursor = last.cursor
    # Qt's own positions agree, the emoji and the leading blanks included.
    assert cursor.selectedText() == URL
    view.select_row(0, FIELD_COLUMNS["path"])
    assert view.highlighted_text() is None
    assert view.span_hint.text() == f"Path: {NOT_SAID}."
    # The editor's fields follow the selection; focusing one shows its span too.
    assert view.edits["host"].text() == "github.com" and view.edits["path"].text() == ""
    assert not view.edits["path"].isEnabled()  # a repository request has no path
    assert view.submit_button.isEnabled()
    # Once the message is edited, the old spans are not drawn over the new text.
    view.message.appendPlainText("PS: also my dotfiles")
    assert view.message.extraSelections() == [] and "changed" in view.span_hint.text()


def test_abstentions_when_the_text_does_not_say(qtbot, window, live_server, demo,
                                                qtmodeltester):  # fmt: skip
    view = open_intake(qtbot, window, live_server, demo["reviewer"])
    propose(qtbot, window, view, "How do I get my code out of your dataset?")
    assert view.model.rowCount() == 0
    assert view.summary.text().startswith(f"No request proposed: {NOT_SAID} what to remove")
    assert not view.submit_button.isEnabled()
    # A bare owner/name with no host: proposed, incomplete, the host not said.
    propose(qtbot, window, view, BARE)
    qtmodeltester.check(view.model)
    [row] = view.model.rows
    host_cell = view.model.data(view.model.index(0, FIELD_COLUMNS["host"]))
    assert host_cell == f"{NOT_SAID} (needed)"
    assert view.model.data(view.model.index(0, FIELD_COLUMNS["owner"])) == "kelnor · 100%"
    assert "needed" in view.infos["host"].text()
    assert view.status.text() == f"incomplete: {NOT_SAID} which host"
    assert not view.submit_button.isEnabled()
    view.select_row(0, FIELD_COLUMNS["name"])
    assert view.highlighted_text() == "ledger"
    # With a default host, the same message is complete.
    view.default_host.setCurrentText("codeberg.org")
    propose(qtbot, window, view, BARE)
    [row] = view.model.rows
    assert row["fields"]["host"]["source"] == "default" and can_submit(row)
    assert window.store.get("intake/default_host") == "codeberg.org"


def confirm_dialog(qtbot, view):
    view.submit_button.click()
    qtbot.waitUntil(lambda: view.confirmation is not None and view.confirmation.isVisible())
    return view.confirmation


def test_edit_then_confirm_submits_exactly_the_shown_scope(qtbot, window, live_server, demo,
                                                          api):  # fmt: skip
    view = open_intake(qtbot, window, live_server, demo["reviewer"])
    before = requests_count(api, demo["reviewer"])
    propose(qtbot, window, view, BARE)
    # The reviewer fills in the host and narrows the request to one file.
    qtbot.keyClicks(view.edits["host"], "GitLab.com")
    view.kind.setCurrentText("file")
    view._kind_chosen(view.kind.currentIndex())  # as the combo's activated() does
    assert view.edits["path"].isEnabled()
    qtbot.keyClicks(view.edits["path"], "config/mail.yml")
    qtbot.keyClicks(view.edits["line"], "12")
    row = view.model.rows[0]
    assert row["edited"] == {"host", "kind", "path", "line"}
    assert view.status.text() == "edited, ready to submit"
    assert "edited by you" in view.infos["host"].text()
    assert requests_count(api, demo["reviewer"]) == before  # editing submits nothing
    dialog = confirm_dialog(qtbot, view)
    expected = {"kind": "file", "host": "gitlab.com", "owner": "kelnor", "name": "ledger",
                "path": "config/mail.yml", "line": 12}  # fmt: skip
    assert dialog.body == expected
    shown = dialog.text.text()
    assert "gitlab.com" in shown and "config/mail.yml" in shown and "kelnor" in shown
    assert dialog.cancel_button.isDefault()
    assert requests_count(api, demo["reviewer"]) == before  # still nothing
    with qtbot.waitSignal(view.submitted, timeout=10_000) as signal:
        dialog.submit_button.click()
    idle(qtbot, window)
    assert requests_count(api, demo["reviewer"]) == before + 1
    request = signal.args[0]
    stored = Request.get_by_id(request["id"])
    assert {k: getattr(stored, k) for k in expected} == expected
    assert stored.state == "received"
    assert view.model.rows[0]["submitted"] == request["id"]
    assert not view.submit_button.isEnabled()  # submitted once; not again
    assert f"#{request['id']}" in view.receipt_text.text()
    assert "/status?t=" in view.receipt_text.text()
    # The new request is in the queue, shown on demand.
    view.queue_button.click()
    queue = window.queue
    qtbot.waitUntil(lambda: queue.panel.data is not None
                    and queue.panel.data["id"] == request["id"], timeout=10_000)  # fmt: skip
    idle(qtbot, window)
    assert window.tabs.currentWidget() is queue
    assert "received" in queue.counts.selected_states()
    assert requests_count(api, demo["reviewer"]) == before + 1


def test_cancelling_the_confirmation_submits_nothing(qtbot, window, live_server, demo, api):
    view = open_intake(qtbot, window, live_server, demo["reviewer"])
    before = requests_count(api, demo["reviewer"])
    propose(qtbot, window, view, MESSAGE)
    dialog = confirm_dialog(qtbot, view)
    assert dialog.body == {"kind": "repository", "host": "github.com", "owner": "octocat",
                           "name": "hello-world"}  # fmt: skip
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: view.confirmation is None)
    idle(qtbot, window)
    assert requests_count(api, demo["reviewer"]) == before
    assert view.model.rows[0]["submitted"] is None and view.submit_button.isEnabled()
    assert view.receipt is None and not view.queue_button.isVisible()


def test_a_server_error_shows_in_the_banner(qtbot, window, live_server, demo):
    view = open_intake(qtbot, window, live_server, demo["reviewer"])
    propose(qtbot, window, view, MESSAGE)
    propose(qtbot, window, view, "x" * (MAX_TEXT + 1))
    assert window.banner.isVisible() and window.banner.level == "error"
    assert "Proposing requests from the message" in window.banner.label.text()
    assert "HTTP 422" in window.banner.label.text()
    assert not window.banner.retry_button.isVisible()  # the same message would fail again
    assert view.message.toPlainText() == "x" * (MAX_TEXT + 1)  # what was pasted is kept
    assert "could not propose" in view.summary.text()
    # An empty message is not sent at all.
    window.banner.hide()
    propose(qtbot, window, view, "   \n ")
    assert view.summary.text() == "Paste a message first." and not window.banner.isVisible()

"""Connecting, the paged queue, filters and counts, keyboard triage and 412 conflicts, against
the real server on loopback."""

from __future__ import annotations

import stat

from PySide6.QtCore import Qt

from desktop.store import Store
from server.models import Request
from shared import states
from tests.desktop.conftest import connect, idle
from tests.desktop.demo import bulk_requests


def row_of(win, request_id: int) -> int:
    position = win.queue.model.position_of(request_id)
    assert position is not None, f"request {request_id} is not in the queue"
    return position


def open_request(qtbot, win, request_id: int) -> None:
    win.queue.select_row(row_of(win, request_id))
    qtbot.waitUntil(lambda: win.queue.panel.data is not None
                    and win.queue.panel.data["id"] == request_id)
    idle(qtbot, win)


def test_connect_loads_the_queue_and_counts(qtbot, window, live_server, demo, qtmodeltester,
                                            config_dir):
    connect(qtbot, window, live_server, demo["reviewer"])
    assert window.who.text().startswith("ada (reviewer) @ http://127.0.0.1:")
    queue = window.queue
    qtbot.waitUntil(lambda: queue.model.total is not None)
    idle(qtbot, window)
    # The default filter: the states a reviewer acts on.
    shown = {row["state"] for row in queue.model.rows}
    assert shown == {states.CONFIRMED, states.VERIFIED, states.NEEDS_INFO}
    assert queue.model.total == len(queue.model.rows) == 6
    counts = queue.counts.counts
    assert counts[states.VERIFIED] == 2 and counts[states.APPROVED] == 2
    assert counts[states.PUBLISHED] == 1 and sum(counts.values()) == 10
    # The first row is open in the detail pane, with its catalog coverage.
    qtbot.waitUntil(lambda: queue.panel.data is not None)
    idle(qtbot, window)
    qtmodeltester.check(queue.model)
    qtmodeltester.check(queue.counts)
    # The token was not asked to be kept.
    assert not Store(config_dir).token_file.exists()


def test_a_wrong_token_is_refused_clearly(qtbot, window, live_server, demo):
    view = window.connect_view
    view.server.setText(live_server)
    view.token.setText("optu_not-a-token")
    view.button.click()
    qtbot.waitUntil(lambda: view.message.text().startswith("Could not connect"))
    assert "401" in view.message.text()
    assert window.ctx.session is None and window.stack.currentWidget() is view


def test_the_token_is_kept_only_when_asked_in_a_private_file(qtbot, window, live_server, demo,
                                                             config_dir):
    from desktop.app import build_window

    connect(qtbot, window, live_server, demo["reviewer"], remember=True)
    store = Store(config_dir)
    mode = stat.S_IMODE(store.token_file.stat().st_mode)
    assert mode == 0o600
    assert store.load_token(live_server) == demo["reviewer"]
    assert store.load_token("http://elsewhere.example") is None
    # A new window with the same settings connects by itself.
    again = build_window(config_dir)
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.ctx.session is not None, timeout=10_000)
    idle(qtbot, again)
    # Unticking the box forgets the token.
    connect(qtbot, again, live_server, demo["reviewer"], remember=False)
    assert not store.token_file.exists()


def test_keyboard_triage_verifies_then_approves(qtbot, window, live_server, demo):
    connect(qtbot, window, live_server, demo["reviewer"])
    queue, panel = window.queue, window.queue.panel
    request_id = demo["requests"][("owner", states.CONFIRMED)]
    qtbot.waitUntil(lambda: queue.model.position_of(request_id) is not None)
    open_request(qtbot, window, request_id)
    queue.table.setFocus()
    # Verifying needs a reason: the key puts the cursor in the reason box and waits.
    qtbot.keyClick(queue.table, Qt.Key.Key_V)
    assert panel.pending == states.VERIFIED and "needs a reason" in panel.hint.text()
    assert Request.get_by_id(request_id).state == states.CONFIRMED
    qtbot.keyClicks(panel.reason, "Checked the org's membership page")
    qtbot.keyClick(panel.reason, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: panel.data["state"] == states.VERIFIED, timeout=10_000)
    idle(qtbot, window)
    assert panel.reason.toPlainText() == ""  # cleared only after success
    queue.table.setFocus()
    qtbot.keyClick(queue.table, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: panel.data["state"] == states.APPROVED, timeout=10_000)
    idle(qtbot, window)
    stored = Request.get_by_id(request_id)
    assert stored.state == states.APPROVED
    assert [e.to_state for e in stored.events][-2:] == [states.VERIFIED, states.APPROVED]
    row = queue.model.row(row_of(window, request_id))
    assert row["state"] == states.APPROVED  # the table shows the new state too
    # J and K move through the queue.
    position = queue.table.currentIndex().row()
    qtbot.keyClick(queue.table, Qt.Key.Key_J)
    assert queue.table.currentIndex().row() == position + 1
    qtbot.keyClick(queue.table, Qt.Key.Key_K)
    assert queue.table.currentIndex().row() == position
    idle(qtbot, window)


def test_a_conflict_reloads_shows_the_change_and_keeps_the_reason(
        qtbot, window, live_server, demo, api, factory):
    connect(qtbot, window, live_server, demo["reviewer"])
    panel = window.queue.panel
    request_id = demo["requests"][("repository", states.VERIFIED)]
    qtbot.waitUntil(lambda: window.queue.model.position_of(request_id) is not None)
    open_request(qtbot, window, request_id)
    seen = panel.etag
    # Another reviewer acts first.
    other = api(factory.user(states.REVIEWER, name="bob")[1])
    current = other.get_request(request_id)
    other.transition(request_id, states.NEEDS_INFO, current.etag, "which fork do you mean?")
    qtbot.keyClicks(panel.reason, "Duplicate of an approved request")
    panel.act(states.REJECTED)
    qtbot.waitUntil(lambda: panel.notice.isVisible(), timeout=10_000)
    qtbot.waitUntil(lambda: panel.data["state"] == states.NEEDS_INFO, timeout=10_000)
    idle(qtbot, window)
    text = panel.notice.text()
    assert "Another reviewer changed this request" in text
    assert "verified → needs_info" in text and "which fork do you mean?" in text
    assert panel.reason.toPlainText() == "Duplicate of an approved request"
    assert panel.etag != seen
    assert Request.get_by_id(request_id).state == states.NEEDS_INFO  # nothing of ours applied
    # Acting again, on the version now shown, works.
    panel.act(states.REJECTED)
    qtbot.waitUntil(lambda: panel.data["state"] == states.REJECTED, timeout=10_000)
    idle(qtbot, window)
    last = list(Request.get_by_id(request_id).events)[-1]
    assert (last.to_state, last.reason) == (states.REJECTED, "Duplicate of an approved request")


def test_filters_search_sort_and_paging(qtbot, window, live_server, demo, qtmodeltester):
    bulk_requests(450)
    connect(qtbot, window, live_server, demo["reviewer"])
    queue = window.queue
    queue.counts.set_selected([])
    queue.refresh()
    qtbot.waitUntil(lambda: queue.model.total == 460, timeout=10_000)
    idle(qtbot, window)
    qtmodeltester.check(queue.model)
    assert len(queue.model.rows) == 200  # one page; more as the view scrolls
    while queue.model.canFetchMore() or queue.model.loading:
        queue.table.scrollToBottom()
        qtbot.wait(20)
    idle(qtbot, window)
    ids = [row["id"] for row in queue.model.rows]
    assert len(ids) == len(set(ids)) == 460
    # Kind and host filters, then a text search (debounced).
    queue.kind.setCurrentText("owner")
    queue.host.setText("codeberg.org")
    queue.host.editingFinished.emit()
    qtbot.waitUntil(lambda: not queue.model.loading and queue.model.total is not None)
    idle(qtbot, window)
    rows = queue.model.rows
    assert rows and all(r["kind"] == "owner" and r["host"] == "codeberg.org" for r in rows)
    assert sum(queue.counts.counts.values()) == queue.model.total
    queue.search.setText("quiet-dev")
    qtbot.waitUntil(lambda: queue.model.total == 1, timeout=5_000)
    idle(qtbot, window)
    # Sorting by id, descending, asks the server again.
    queue.search.setText("")
    queue.kind.setCurrentText("any kind")
    queue.host.setText("")
    queue.host.editingFinished.emit()
    queue.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: queue.model.sort_key == "-id" and bool(queue.model.rows),
                    timeout=5_000)
    idle(qtbot, window)
    ids = [row["id"] for row in queue.model.rows]
    assert ids == sorted(ids, reverse=True)


def test_filters_and_window_state_persist(qtbot, window, live_server, demo, config_dir):
    from desktop.store import Store
    from desktop.window import MainWindow

    connect(qtbot, window, live_server, demo["reviewer"])
    window.queue.search.setText("octocat")
    window.queue.age.setCurrentText("newer than 7 days")
    window.queue.counts.set_selected([states.APPROVED])
    window.queue.refresh()
    idle(qtbot, window)
    window.tabs.setCurrentIndex(2)
    idle(qtbot, window)
    window.close()
    again = MainWindow(Store(config_dir))
    qtbot.addWidget(again)
    assert again.queue.search.text() == "octocat"
    assert again.queue.age.currentText() == "newer than 7 days"
    assert again.queue.counts.selected_states() == [states.APPROVED]
    assert again.tabs.currentIndex() == 2
    assert again.connect_view.server.text() == live_server


def test_an_unreachable_server_shows_a_banner_with_retry(qtbot, window, live_server, demo):
    from desktop.session import Session

    connect(qtbot, window, live_server, demo["reviewer"])
    real = window.ctx.session
    window.ctx.session = Session("http://127.0.0.1:9", real.token, real.name, real.role)
    window.queue.refresh()
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=10_000)
    assert "Cannot reach the server" in window.banner.label.text()
    assert window.banner.retry_button.isVisible()
    window.ctx.session = real
    window.banner.retry_button.click()
    assert not window.banner.isVisible()
    qtbot.waitUntil(lambda: bool(window.queue.model.rows), timeout=10_000)
    idle(qtbot, window)


def test_scrolling_never_skips_a_row_that_others_decide_meanwhile(qtbot, window, live_server,
                                                                   demo):
    from server.models import Request

    bulk_requests(1300)  # a sixth of them received: more than one page of 200
    connect(qtbot, window, live_server, demo["reviewer"])
    queue = window.queue
    queue.counts.set_selected([states.RECEIVED])
    queue.refresh()
    qtbot.waitUntil(lambda: queue.model.total is not None and not queue.model.loading,
                    timeout=10_000)
    idle(qtbot, window)
    first = [row["id"] for row in queue.model.rows]
    assert len(first) == 200 < queue.model.total
    # Other reviewers decide 120 of the rows this one has already seen.
    Request.update(state=states.CONFIRMED).where(Request.id << first[:120]).execute()
    while queue.model.canFetchMore() or queue.model.loading:
        queue.table.scrollToBottom()
        qtbot.wait(20)
    idle(qtbot, window)
    shown = [row["id"] for row in queue.model.rows]
    still = {r.id for r in Request.select(Request.id).where(Request.state == states.RECEIVED)}
    assert still <= set(shown), f"{len(still - set(shown))} received rows were never shown"
    assert len(shown) == len(set(shown))

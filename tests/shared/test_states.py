from shared import states


def test_every_state_is_reachable_from_received():
    seen, frontier = {states.RECEIVED}, [states.RECEIVED]
    while frontier:
        for target in states.targets_from(frontier.pop()):
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(states.STATES)


def test_terminal_states_have_no_way_out():
    for state in states.TERMINAL_STATES:
        assert states.targets_from(state) == []


def test_refusals_and_reopening_need_a_reason():
    for (source, target), step in states.TRANSITIONS.items():
        if target in (states.REJECTED, states.NEEDS_INFO, states.REVERTED, states.VERIFIED):
            assert step.reason_required, (source, target)


def test_only_the_owner_confirms_or_withdraws_and_only_the_service_publishes():
    for (_source, target), step in states.TRANSITIONS.items():
        if target in (states.WITHDRAWN,) or (
            target == states.CONFIRMED and _source == states.RECEIVED
        ):
            assert step.roles == {states.OWNER}
        if target == states.PUBLISHED:
            assert step.roles == {states.SYSTEM}


def test_published_requests_can_only_be_reverted():
    assert states.targets_from(states.PUBLISHED) == [states.REVERTED]

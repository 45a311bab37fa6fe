"""``signaling.history``: count and age limits, dedupe by seq, gaps, what resume can cover."""

from __future__ import annotations

from signaling.history import EventStatus, History


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _frame(seq: int) -> bytes:
    return f"e{seq}".encode()


def test_first_event_starts_the_history_then_only_the_next_is_accepted() -> None:
    h = History()
    assert h.latest(7) is None
    assert h.append(7, 40, _frame(40)) is EventStatus.ACCEPTED
    assert h.append(7, 40, _frame(40)) is EventStatus.DUPLICATE
    assert h.append(7, 39, _frame(39)) is EventStatus.DUPLICATE
    assert h.append(7, 42, _frame(42)) is EventStatus.GAP
    assert h.append(7, 41, _frame(41)) is EventStatus.ACCEPTED
    assert h.latest(7) == 41
    assert h.append(7, 42, _frame(42)) is EventStatus.ACCEPTED
    assert h.append(8, 5, _frame(5)) is EventStatus.ACCEPTED  # another sprint: its first


def test_since_returns_exactly_what_follows_or_none() -> None:
    h = History()
    for seq in range(1, 21):
        h.append(1, seq, _frame(seq))
    assert h.since(1, 15) == [_frame(s) for s in range(16, 21)]
    assert h.since(1, 0) == [_frame(s) for s in range(1, 21)]
    assert h.since(1, 20) == []
    assert h.since(1, 99) == []
    assert h.since(2, 0) is None  # unknown sprint: refetch


def test_count_limit_keeps_the_newest_and_latest_survives() -> None:
    h = History(max_size=5)
    for seq in range(1, 13):
        h.append(1, seq, _frame(seq))
    assert h.since(1, 7) == [_frame(s) for s in range(8, 13)]
    assert h.since(1, 6) is None
    assert h.append(1, 3, _frame(3)) is EventStatus.DUPLICATE


def test_age_limit() -> None:
    clock = Clock()
    h = History(max_age=60, clock=clock)
    h.append(1, 1, _frame(1))
    clock.now += 30
    h.append(1, 2, _frame(2))
    clock.now += 31
    assert h.since(1, 0) is None
    assert h.since(1, 1) == [_frame(2)]
    clock.now += 100
    assert h.since(1, 1) is None
    assert h.since(1, 2) == []
    assert h.append(1, 2, _frame(2)) is EventStatus.DUPLICATE
    assert h.append(1, 3, _frame(3)) is EventStatus.ACCEPTED
    assert h.since(1, 2) == [_frame(3)]


def test_sprint_limit_forgets_the_least_recently_used() -> None:
    h = History(max_sprints=2)
    h.append(1, 1, _frame(1))
    h.append(2, 1, _frame(1))
    h.append(1, 2, _frame(2))  # sprint 1 used again
    h.append(3, 1, _frame(1))
    assert h.latest(2) is None
    assert h.latest(1) == 2
    assert h.latest(3) == 1
    assert h.append(2, 7, _frame(7)) is EventStatus.ACCEPTED  # forgotten: starts again


def test_an_event_marked_reset_restarts_the_history_unless_it_is_the_next() -> None:
    h = History()
    for seq in (1, 2):
        h.append(1, seq, _frame(seq), epoch="a")
    assert h.append(1, 3, _frame(3), epoch="a", reset=True) is EventStatus.ACCEPTED
    assert h.since(1, 0) == [_frame(s) for s in (1, 2, 3)]  # nothing was dropped
    assert h.append(1, 7, _frame(7), epoch="a") is EventStatus.GAP
    assert h.append(1, 7, _frame(7), epoch="a", reset=True) is EventStatus.RESET
    assert h.latest(1) == 7
    assert h.since(1, 3) is None  # older history dropped: clients resync
    assert h.since(1, 6) == [_frame(7)]
    assert h.append(1, 7, _frame(7), epoch="a", reset=True) is EventStatus.DUPLICATE  # retry
    assert h.append(1, 8, _frame(8), epoch="a") is EventStatus.ACCEPTED


def test_another_epoch_restarts_the_history_even_at_a_lower_seq() -> None:
    """A database restored from a backup numbers again from a lower seq: with a new epoch
    its events are a new stream, not duplicates of the old one."""
    h = History()
    for seq in range(1, 11):
        h.append(1, seq, _frame(seq), epoch="before")
    assert h.append(1, 6, _frame(6), epoch="before") is EventStatus.DUPLICATE
    assert h.append(1, 6, _frame(6), epoch="after") is EventStatus.RESET
    assert h.latest(1) == 6
    assert h.append(1, 7, _frame(7), epoch="after") is EventStatus.ACCEPTED
    assert h.since(1, 5) == [_frame(6), _frame(7)]
    # The unknown sprint: the first event starts it (reset if asked, to resync clients).
    assert h.append(2, 5, _frame(5), epoch="x") is EventStatus.ACCEPTED
    assert h.append(3, 5, _frame(5), epoch="x", reset=True) is EventStatus.RESET

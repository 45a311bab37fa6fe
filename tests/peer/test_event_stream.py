"""`peer.event_stream`: the client algorithm of protocol §6, frame by frame."""

from __future__ import annotations

from typing import Any

from peer.event_stream import Board, EventStream, Outcome


def ev(seq: int, action: str = "updated", task: int = 1, **data: Any) -> dict[str, Any]:
    body = None if action == "deleted" else {"id": task, "name": f"t{task}", **data}
    return {"type": "event", "sprint": 7, "seq": seq, "action": action, "model": "task",
            "id": task, "data": body}


def seqs(outcome: Outcome) -> list[int]:
    return [e["seq"] for e in outcome.apply]


def test_in_order_events_apply_one_by_one() -> None:
    stream = EventStream(last=3)
    assert seqs(stream.event(ev(4))) == [4]
    assert seqs(stream.event(ev(5))) == [5]
    assert stream.last == 5


def test_duplicates_are_ignored() -> None:
    stream = EventStream(last=3)
    assert stream.event(ev(3)) == Outcome()
    stream.event(ev(4))
    assert stream.event(ev(4)) == Outcome()
    assert stream.last == 4


def test_gap_sends_resume_once_and_applies_buffered_in_order() -> None:
    stream = EventStream(last=3)
    assert stream.event(ev(6)) == Outcome(resume=3)
    assert stream.event(ev(5)) == Outcome()  # resume already out: not again
    assert stream.event(ev(6)) == Outcome()  # buffered duplicate
    assert stream.buffered == 2 and stream.recovering
    assert seqs(stream.event(ev(4))) == [4, 5, 6]
    assert stream.last == 6 and stream.buffered == 0 and not stream.recovering
    # The gap closed: a new gap asks again.
    assert stream.event(ev(8)) == Outcome(resume=6)


def test_partial_fill_keeps_one_resume_out() -> None:
    stream = EventStream(last=1)
    assert stream.event(ev(3)) == Outcome(resume=1)
    assert stream.event(ev(5)) == Outcome()
    assert seqs(stream.event(ev(2))) == [2, 3]
    assert stream.recovering  # 4 still missing; the resume since 1 covers it
    assert seqs(stream.event(ev(4))) == [4, 5]
    assert not stream.recovering


def test_welcome_with_newer_seq_resumes() -> None:
    stream = EventStream(last=42)
    assert stream.welcome(45) == Outcome(resume=42)
    assert EventStream(last=42).welcome(42) == Outcome()
    assert EventStream(last=42).welcome(None) == Outcome()  # server just restarted


def test_without_rest_state_the_stream_starts_at_welcome() -> None:
    stream = EventStream()
    assert stream.welcome(10) == Outcome()
    assert stream.last == 10
    assert seqs(stream.event(ev(11))) == [11]


def test_without_any_baseline_the_first_event_starts_the_stream() -> None:
    stream = EventStream()
    stream.welcome(None)
    assert seqs(stream.event(ev(5))) == [5]
    assert stream.event(ev(7)) == Outcome(resume=5)


def test_resync_refetches_when_told_to_then_reset_drops_what_rest_covers() -> None:
    stream = EventStream(last=3)
    stream.event(ev(9))
    stream.event(ev(10))
    assert stream.refetch() == Outcome(refetch=True)
    assert stream.event(ev(12)) == Outcome()  # no resume while refetching
    assert stream.resync(20) == Outcome()  # the refetch under way covers it
    outcome = stream.reset(9)  # REST state includes seq 9
    assert seqs(outcome) == [10]
    assert outcome.resume == 10  # 11 missing above the fresh state
    assert stream.last == 10


def test_reset_with_nothing_buffered_is_quiet() -> None:
    stream = EventStream(last=3)
    stream.refetch()
    assert stream.reset(20) == Outcome()
    assert not stream.recovering
    assert stream.event(ev(20)) == Outcome()
    assert seqs(stream.event(ev(21))) == [21]


def test_resync_catches_up_from_the_log_as_if_live() -> None:
    stream = EventStream(last=3)
    assert stream.event(ev(5)) == Outcome(resume=3)
    assert stream.resync(9) == Outcome(catch_up=3)
    assert stream.catching_up and stream.recovering
    assert stream.resync(10) == Outcome()  # the catch-up under way covers it
    assert stream.event(ev(11)) == Outcome()  # live, above a gap: no resume meanwhile
    assert seqs(stream.event(ev(4))) == [4, 5]  # from the log (5 was buffered)
    assert stream.event(ev(5)) == Outcome()  # the log's own 5: a duplicate now
    assert seqs(stream.event(ev(6))) == [6]
    # The log ends at 6 (read before 7 committed): resume for the rest.
    assert stream.caught_up() == Outcome(resume=6)
    assert not stream.catching_up
    assert seqs(stream.event(ev(7))) == [7]


def test_a_caught_up_stream_drains_what_came_live_meanwhile() -> None:
    stream = EventStream(last=3)
    stream.resync(None)
    stream.event(ev(6))  # live while the log is read
    for seq in (4, 5):
        stream.event(ev(seq))
    assert stream.last == 6 and stream.caught_up() == Outcome()
    assert not stream.recovering


def test_the_log_failing_falls_back_to_a_refetch() -> None:
    stream = EventStream(last=3)
    assert stream.resync(9) == Outcome(catch_up=3)
    assert stream.refetch() == Outcome(refetch=True)  # what the caller does on a 410
    assert not stream.catching_up and stream.caught_up() == Outcome()


def test_resync_at_or_below_last_means_a_renumbered_stream_refetch() -> None:
    """The server's history restarted (a reset) at a seq we already have: our seqs are
    another numbering's, and the log after them would not be ours either."""
    assert EventStream(last=10).resync(10) == Outcome(refetch=True)
    assert EventStream(last=10).resync(4) == Outcome(refetch=True)
    catching = EventStream(last=10)
    catching.resync(12)
    assert catching.resync(3) == Outcome(refetch=True) and not catching.catching_up
    assert EventStream().resync(5) == Outcome(refetch=True)  # no seq of ours at all


def test_welcome_lower_than_last_refetches() -> None:
    """A stream that restarted lower numbered: waiting until its seqs pass ours would drop
    its real events as duplicates."""
    stream = EventStream(last=42)
    assert stream.welcome(7) == Outcome(refetch=True)
    assert stream.event(ev(8)) == Outcome()  # held for after the reload
    assert seqs(stream.reset(7)) == [8]


def test_buffer_overflow_catches_up_from_the_log() -> None:
    stream = EventStream(last=0, max_buffer=2)
    stream.event(ev(3))
    stream.event(ev(4))
    assert stream.event(ev(5)) == Outcome(catch_up=0)
    assert stream.buffered == 0


def test_malformed_seq_is_ignored() -> None:
    stream = EventStream(last=1)
    for bad in (None, "2", True, 0, -1):
        assert stream.event({"type": "event", "seq": bad}) == Outcome()
    assert stream.last == 1


def test_board_applies_idempotently() -> None:
    board = Board()
    board.load({"id": 7, "seq": 3}, [{"id": 1, "name": "a"}])
    for event in (ev(4, "created", task=2), ev(4, "created", task=2)):
        board.apply(event)
    board.apply(ev(5, "updated", task=1, status="done"))
    board.apply(ev(5, "updated", task=1, status="done"))
    assert board.tasks == {1: {"id": 1, "name": "t1", "status": "done"},
                           2: {"id": 2, "name": "t2"}}
    board.apply(ev(6, "deleted", task=2))
    board.apply(ev(6, "deleted", task=2))
    board.apply(ev(7, "removed", task=1))
    assert board.tasks == {}
    board.apply(ev(8, "added", task=3))
    assert set(board.tasks) == {3}
    board.apply({"seq": 9, "action": "updated", "model": "sprint", "id": 7,
                 "data": {"id": 7, "name": "S"}})
    assert board.sprint == {"id": 7, "name": "S"}

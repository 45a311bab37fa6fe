"""`peer.drag`: sequence numbers, receiver-side dedupe per sender, ghosts that expire."""

from __future__ import annotations

import pytest

from peer.drag import DragReceiver, DragSequence
from signaling.protocol import Drag, ProtocolError


def drag(seq: int, phase: str = "move", task: int = 7) -> Drag:
    return Drag(seq=seq, task=task, phase=phase, status="testing", index=0, x=0.5, y=0.5)


def test_sequence_increases_across_tasks() -> None:
    seq = DragSequence()
    assert [seq.next(7, "start").seq, seq.next(7, "move").seq, seq.next(8, "start").seq] == [
        1, 2, 3]
    assert seq.last == 3


def test_sequence_burns_no_number_on_invalid_fields() -> None:
    seq = DragSequence()
    with pytest.raises(ProtocolError):
        seq.next(7, "fly")
    with pytest.raises(ProtocolError):
        seq.next(7, "move", x=1.5)
    assert seq.next(7, "start").seq == 1


def test_receiver_drops_updates_not_above_last_seq_per_sender() -> None:
    rx = DragReceiver()
    assert rx.accept("a", drag(1, "start"), now=0)
    assert not rx.accept("a", drag(1, "start"), now=0)  # same update by the other path
    assert rx.accept("a", drag(3), now=0)
    assert not rx.accept("a", drag(2), now=0)  # late, unordered channel
    assert rx.accept("b", drag(1, "start"), now=0)  # senders are independent
    assert rx.last_seq("a") == 3


def test_late_move_cannot_revive_a_ghost_after_end() -> None:
    rx = DragReceiver()
    rx.accept("a", drag(1, "start"), now=0)
    rx.accept("a", drag(3, "end"), now=0)
    assert not rx.accept("a", drag(2), now=0)
    assert list(rx.ghosts()) == []


def test_ghosts_follow_updates_and_expire_after_ttl() -> None:
    rx = DragReceiver(ttl=5.0)
    rx.accept("a", drag(1, "start", task=7), now=0.0)
    rx.accept("b", drag(1, "start", task=8), now=3.0)
    rx.accept("a", drag(2, task=7), now=1.0)
    assert [(g.sender, g.drag.task) for g in rx.ghosts()] == [("a", 7), ("b", 8)]
    assert rx.expire(now=5.9) == []
    assert [g.sender for g in rx.expire(now=6.0)] == ["a"]
    assert [g.sender for g in rx.ghosts()] == ["b"]
    assert [g.sender for g in rx.expire(now=8.0)] == ["b"]


def test_forget_removes_a_departed_senders_ghosts_and_seq() -> None:
    rx = DragReceiver()
    rx.accept("a", drag(5, "start", task=7), now=0)
    rx.accept("a", drag(6, "start", task=8), now=0)
    rx.accept("b", drag(1, "start", task=9), now=0)
    assert {g.drag.task for g in rx.forget("a")} == {7, 8}
    assert [g.sender for g in rx.ghosts()] == ["b"]
    assert rx.last_seq("a") == 0

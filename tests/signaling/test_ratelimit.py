"""``signaling.ratelimit``: the token bucket, the latest-wins move coalescer, the log budget."""

from __future__ import annotations

import asyncio

from signaling.ratelimit import LogBudget, MoveCoalescer, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_the_burst_then_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(10, 5, clock=clock)
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]
    assert bucket.wait_time() == 0.1
    clock.now += 0.1
    assert bucket.take()
    assert not bucket.take()
    clock.now += 100  # saves up no more than the burst
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]


async def test_coalescer_keeps_the_latest_per_task_and_flushes_on_tokens() -> None:
    bucket = TokenBucket(100, 1)
    assert bucket.take()
    sent: list[str] = []
    moves: MoveCoalescer[str] = MoveCoalescer(bucket, sent.append, max_tasks=2)
    assert moves.hold(1, "a1") is False
    assert moves.hold(1, "a2") is True
    assert moves.hold(2, "b1") is False
    assert moves.hold(3, "c1") is None  # bounded: a third task is refused
    async with asyncio.timeout(2):
        while len(sent) < 2:
            await asyncio.sleep(0.005)
    assert sent == ["a2", "b1"]
    assert not moves.discard(1) and not moves.discard(2)  # nothing left pending


async def test_coalescer_discard_and_cancel() -> None:
    bucket = TokenBucket(1000, 1)
    bucket.take()
    sent: list[str] = []
    moves: MoveCoalescer[str] = MoveCoalescer(bucket, sent.append)
    moves.hold(1, "a")
    assert moves.discard(1)
    assert not moves.discard(1)
    moves.hold(2, "b")
    moves.cancel()
    await asyncio.sleep(0.05)
    assert sent == []


def test_log_budget_writes_a_sample_and_says_how_many_it_left_out() -> None:
    clock = Clock()
    budget = LogBudget(2, 3, clock=clock)
    assert [budget.admit() for _ in range(10)] == [0, 0, 0] + [None] * 7
    clock.now += 0.5  # one line's worth
    assert budget.admit() == 7
    assert budget.admit() is None
    clock.now += 10
    assert budget.admit() == 1
    assert budget.admit() == 0

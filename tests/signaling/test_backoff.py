"""`signaling.backoff`: the one retry delay of the Python parts (full jitter, protocol §5)."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from signaling.backoff import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    RETRY_AFTER_MAX,
    backoff_ceiling,
    backoff_delay,
    parse_retry_after,
    retry_after_delay,
)
from tests.servers import ROOT


def test_the_window_doubles_from_the_base_up_to_the_cap() -> None:
    assert (BACKOFF_BASE, BACKOFF_CAP) == (0.5, 30.0)  # the protocol's client defaults
    assert [backoff_ceiling(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert [backoff_ceiling(n, base=0.1, cap=5) for n in (0, 1, 2, 10)] == [0.1, 0.2, 0.4, 5]


def test_the_delay_is_the_injected_fraction_of_the_window() -> None:
    for n in range(10):
        ceiling = backoff_ceiling(n)
        assert backoff_delay(n, random=lambda: 0.0) == 0.0
        assert backoff_delay(n, random=lambda: 0.5) == ceiling / 2
        assert backoff_delay(n, random=lambda: 0.999) < ceiling


def test_full_jitter_spreads_over_the_whole_window() -> None:
    rng = random.Random(1)
    for attempt in range(12):
        ceiling = min(30.0, 0.5 * 2**attempt)
        samples = [backoff_delay(attempt, random=rng.random) for _ in range(200)]
        assert all(0.0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8
        assert min(samples) < ceiling * 0.2


def test_a_seeded_random_repeats_and_the_default_stays_in_the_window() -> None:
    assert (backoff_delay(3, random=random.Random(5).random)
            == backoff_delay(3, random=random.Random(5).random))
    assert all(0 <= backoff_delay(n % 9) <= backoff_ceiling(n % 9) for n in range(500))


def test_huge_attempts_stay_at_the_cap_and_odd_randoms_are_clamped() -> None:
    assert backoff_ceiling(10**9, base=1, cap=2) == 2
    assert backoff_delay(10**9, base=1, cap=2, random=lambda: 1.7) == 2
    assert backoff_delay(4, random=lambda: -3.0) == 0.0


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="attempt"):
        backoff_delay(-1)
    with pytest.raises(ValueError, match="base and cap"):
        backoff_ceiling(0, base=-1)


def test_importing_it_loads_nothing_of_the_server() -> None:
    # peer/ and api/ use it: it must not pull in Tornado or another signaling module.
    code = ("import sys, signaling.backoff; "
            "print(sorted(m for m in sys.modules if m.startswith(('signaling', 'tornado'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=30).stdout.strip()
    assert out == "['signaling', 'signaling.backoff']"


def test_retry_after_reads_seconds_and_http_dates_and_ignores_the_rest() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("999999") == RETRY_AFTER_MAX
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    for bad in (None, "", "-1", "1.5", "soon"):
        assert parse_retry_after(bad) is None


def test_after_a_503_the_wait_is_retry_after_plus_own_jitter_never_below_the_backoff() -> None:
    assert retry_after_delay(2, 0, random=lambda: 0.0) == 2.0
    assert retry_after_delay(2, 0, random=lambda: 0.999) == pytest.approx(3.998)
    # a long outage's backoff already waits longer: it is not shortened
    assert retry_after_delay(1, 10, random=lambda: 0.5) == 15.0
    assert retry_after_delay(10_000, 0, random=lambda: 0.0) == RETRY_AFTER_MAX

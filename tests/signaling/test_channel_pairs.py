"""``signaling.channel_pairs.ChannelPairs``: the data-channel pairs gauge counts what peers
claim, each pair once, and holds nothing of a peer once it has left (any sequence of reports
and leaves).
"""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from signaling.channel_pairs import ChannelPairs

PEERS = st.sampled_from(["a", "b", "c", "d", "e"])
OPS = st.lists(st.one_of(st.tuples(st.just("report"), PEERS, st.lists(PEERS, max_size=6)),
                         st.tuples(st.just("leave"), PEERS)), max_size=40)


def test_a_pair_counts_once_while_either_side_claims_it() -> None:
    pairs = ChannelPairs()
    pairs.report("a", ("b", "b", "c", "a"))
    pairs.report("b", ("a",))
    assert len(pairs) == 2
    pairs.report("a", ("c",))
    assert len(pairs) == 2  # b still claims {a, b}
    pairs.report("b", ())
    assert len(pairs) == 1
    pairs.forget("c")  # c left: a's channel with it is gone
    assert len(pairs) == 0
    pairs.forget("a")
    assert (pairs._claims, pairs._pairs, pairs._of) == ({}, Counter(), {})


@settings(max_examples=300, deadline=None, database=None)
@given(OPS)
def test_any_reports_and_leaves_keep_the_books_straight(ops: list[tuple]) -> None:
    pairs = ChannelPairs()
    gone: set[str] = set()
    for op in ops:
        if op[0] == "report":
            pairs.report(op[1], tuple(op[2]))
            gone -= {op[1], *op[2]}  # named again after it left (the app checks presence)
        else:
            pairs.forget(op[1])
            gone.add(op[1])
    # what each pair counts is exactly its claimants, and no pair holds a peer that left
    expected = Counter(frozenset((peer, other)) for peer, others in pairs._claims.items()
                       for other in others)
    assert pairs._pairs == expected
    assert not any(pair & gone for pair in pairs._pairs)
    assert not gone & set(pairs._of) and not gone & set(pairs._claims)
    assert {pair for members in pairs._of.values() for pair in members} == set(pairs._pairs)
    for peer in "abcde":
        pairs.forget(peer)
    assert (pairs._claims, pairs._pairs, pairs._of) == ({}, Counter(), {})

"""Which peers report an open data channel with which (``channels`` frames; a metric).

``watercooler_datachannel_pairs`` says whether WebRTC works for the node's clients: a pair
of peers counts once while either of them reports a channel with the other, and goes when
one of them leaves (on any node: ``Node.deliver`` forgets the pairs of a ``peer_left``).
"""

from __future__ import annotations

from collections import Counter

__all__ = ["ChannelPairs"]


class ChannelPairs:
    """Which peers report an open data channel with which (``channels`` frames; metrics).

    A pair counts while either of its peers claims it, and goes when one of them leaves.
    Each peer's pairs are indexed, so a leave costs its own pairs, not a scan of them all.
    """

    def __init__(self) -> None:
        self._claims: dict[str, frozenset[str]] = {}
        self._pairs: Counter[frozenset[str]] = Counter()
        self._of: dict[str, set[frozenset[str]]] = {}

    def __len__(self) -> int:
        return len(self._pairs)

    def report(self, peer: str, others: tuple[str, ...]) -> None:
        self._unclaim(peer)
        claimed = frozenset(o for o in others if o != peer)
        if claimed:
            self._claims[peer] = claimed
        for other in claimed:
            pair = frozenset((peer, other))
            if not self._pairs[pair]:
                self._of.setdefault(peer, set()).add(pair)
                self._of.setdefault(other, set()).add(pair)
            self._pairs[pair] += 1

    def forget(self, peer: str) -> None:
        """``peer`` left: its claims, and every pair it is in, go."""
        self._unclaim(peer)
        for pair in self._of.pop(peer, set()):
            del self._pairs[pair]
            (other,) = pair - {peer}
            self._drop_index(other, pair)
            claims = self._claims.get(other)
            if claims is not None and peer in claims:
                rest = claims - {peer}
                if rest:
                    self._claims[other] = rest
                else:
                    del self._claims[other]

    def _unclaim(self, peer: str) -> None:
        for other in self._claims.pop(peer, frozenset()):
            pair = frozenset((peer, other))
            left = self._pairs.get(pair, 0) - 1
            if left > 0:
                self._pairs[pair] = left
                continue
            self._pairs.pop(pair, None)
            self._drop_index(peer, pair)
            self._drop_index(other, pair)

    def _drop_index(self, peer: str, pair: frozenset[str]) -> None:
        pairs = self._of.get(peer)
        if pairs is not None:
            pairs.discard(pair)
            if not pairs:
                del self._of[peer]

"""The Redis broker's key names and its Lua scripts (each one atomic on the Redis server).

Every key and channel starts with a prefix (``--redis-prefix``, default ``watercooler:``) so
several deployments, or tests, can share one Redis. The names are made for Redis Cluster as
well as for one Redis: a sprint's keys and its channel carry the hash tag ``{s<id>}`` and a
node's keys and channel ``{n<node>}``, so each lives in one slot, on one shard; the node
registry and the replay memory are in slots of their own. Every script declares the keys it
touches (and the shard channel it publishes on) in KEYS, all in one slot, and builds no key
name inside Lua: Redis Cluster refuses anything else.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BEAT", "CLAIM_NONCE", "CLAIM_REAP", "JOIN_PEER", "LEAVE_PEERS", "MARK_NONCES_START",
           "PRESENCE_PAGE", "READ_SINCE", "REAP_SPRINT", "REAP_STEP", "RECORD_EVENT",
           "REGISTER_SPRINT", "Keys"]


@dataclass(frozen=True, slots=True)
class Keys:
    """Names of everything the broker keeps in Redis (docs/architecture.md, Scale-out)."""

    prefix: str

    def __post_init__(self) -> None:
        # A brace in the prefix would become the hash tag and put every key in one slot.
        if "{" in self.prefix or "}" in self.prefix:
            raise ValueError(f"--redis-prefix {self.prefix!r} must not contain {{ or }}")

    def _sprint(self, sprint: int, name: str) -> str:
        return f"{self.prefix}{{s{sprint}}}:{name}"

    def _node(self, node: str, name: str) -> str:
        return f"{self.prefix}{{n{node}}}:{name}"

    # a sprint's keys: one slot ------------------------------------------------------------
    def sprint_channel(self, sprint: int) -> str:
        """Shard channel of a sprint's envelopes (fan-out)."""
        return self._sprint(sprint, "bus")

    def presence(self, sprint: int) -> str:
        """Hash peer id -> ``{"n": node, "g": generation, "u": user, "t": joined}``."""
        return self._sprint(sprint, "presence")

    def peer_ids(self, sprint: int) -> str:
        """Sorted set of the sprint's peer ids, every score 0 (so in byte-wise order): the
        first K and a page after a cursor in O(log N + K). Written with ``presence``."""
        return self._sprint(sprint, "peers")

    def events(self, sprint: int) -> str:
        """List of ``"<seq> <ms> <frame>"``, contiguous by seq, capped by count and age."""
        return self._sprint(sprint, "events")

    def latest(self, sprint: int) -> str:
        """The latest seq accepted for a sprint (outlives the events themselves)."""
        return self._sprint(sprint, "latest")

    def epoch(self, sprint: int) -> str:
        """The epoch of the sprint's stream (``POST /events/``), as long as its latest seq."""
        return self._sprint(sprint, "epoch")

    # a node's keys: one slot --------------------------------------------------------------
    def node_channel(self, node: str) -> str:
        """Shard channel of a node's direct envelopes (``signal`` to one of its peers)."""
        return self._node(node, "bus")

    def alive(self, node: str) -> str:
        """A node's heartbeat: a string with a TTL of ``--presence-ttl``."""
        return self._node(node, "alive")

    def generation(self, node: str) -> str:
        """The node's generation, in each of its presence entries: new after every lapse of
        its heartbeat, so a reaper removes the entries of the lapsed generation only."""
        return self._node(node, "gen")

    def node_sprints(self, node: str) -> str:
        """Set of the sprints where a node has peers (what to clean up when it dies)."""
        return self._node(node, "sprints")

    def reaper(self, node: str) -> str:
        """The survivor reaping a dead node (a lease with a TTL; another one finishes it)."""
        return self._node(node, "reaper")

    # global keys ----------------------------------------------------------------------------
    @property
    def nodes(self) -> str:
        """Set of the node ids registered (alive, or dead and not reaped yet)."""
        return f"{self.prefix}nodes"

    def nonce(self, nonce: str) -> str:
        """A ``POST /events/`` nonce already used (TTL: while its timestamp is acceptable).

        Every nonce shares the slot of ``nonces_since``: the claim checks both atomically,
        and a shard that loses its data loses both together (requests signed before are
        then refused, not taken for new)."""
        return f"{self.prefix}{{nonces}}:{nonce}"

    @property
    def nonces_since(self) -> str:
        """Unix second from which the nonce keys are complete (set when found missing)."""
        return f"{self.prefix}{{nonces}}:since"


#: KEYS: events list, latest key, sprint channel, epoch key (one slot).
#: ARGV: seq, frame, max count, max age (ms), latest TTL (ms), bus bytes of the event,
#: epoch, "1" if the event is marked reset, bus bytes of the resync sent on a reset.
#: Returns "accepted", "duplicate", "gap" or "reset" by ``history.classify``'s rule (the
#: same, in Lua); a recorded event is published in the same step (after the resync, on a
#: reset), so nodes see events in seq order cluster-wide and an event is never recorded
#: without being published (or the reverse).
RECORD_EVENT = """
local seq = tonumber(ARGV[1])
local epoch, reset = ARGV[7], ARGV[8] == '1'
local latest = tonumber(redis.call('GET', KEYS[2]))
local status = 'accepted'
if latest then
  if (redis.call('GET', KEYS[4]) or '') ~= epoch then status = 'reset'
  elseif seq <= latest then return 'duplicate'
  elseif seq ~= latest + 1 then
    if not reset then return 'gap' end
    status = 'reset'
  end
elseif reset then status = 'reset'
end
if status == 'reset' or not latest then redis.call('DEL', KEYS[1]) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('RPUSH', KEYS[1], ARGV[1] .. ' ' .. now .. ' ' .. ARGV[2])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[3]), -1)
local oldest = now - tonumber(ARGV[4])
while true do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head then break end
  local ms = tonumber(string.match(head, '^%d+ (%d+) '))
  if ms >= oldest then break end
  redis.call('LPOP', KEYS[1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[5])
redis.call('SET', KEYS[4], epoch, 'PX', ARGV[5])
if status == 'reset' then redis.call('SPUBLISH', KEYS[3], ARGV[9]) end
redis.call('SPUBLISH', KEYS[3], ARGV[6])
return status
"""

#: KEYS: latest key, events list (one slot). Returns {latest or '', Redis's clock in ms,
#: the entries}: one consistent read, on the clock that stamped the entries.
READ_SINCE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return {redis.call('GET', KEYS[1]) or '', now, redis.call('LRANGE', KEYS[2], 0, -1)}
"""

#: KEYS: the nonces-since key, the nonce's key (one slot). ARGV: the request's timestamp,
#: TTL (s). Returns "fresh" (the nonce is now taken), "replayed", or "stale": the timestamp
#: is before the nonce keys are complete (Redis lost them: restarted empty, or flushed), so
#: the request could be a replay nothing remembers. The since key is set to Redis's clock
#: when missing; a node sets it at connect, so a request signed after that passes.
CLAIM_NONCE = """
local since = tonumber(redis.call('GET', KEYS[1]))
if not since then
  since = tonumber(redis.call('TIME')[1])
  redis.call('SET', KEYS[1], since)
end
if tonumber(ARGV[1]) < since then return 'stale' end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then return 'fresh' end
return 'replayed'
"""

#: KEYS: the nonces-since key. Sets it to the clock of the shard that holds the nonces if
#: missing (the replay memory is complete from now on).
MARK_NONCES_START = """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], redis.call('TIME')[1]) end
return 1
"""

#: KEYS: the node's heartbeat, its generation (one slot). ARGV: TTL (ms), a new generation.
#: Refreshes the heartbeat and returns the node's generation: the one it had, or ARGV[2] if
#: the heartbeat had lapsed (a survivor may be reaping the old generation's peers).
BEAT = """
local was = redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'GET')
if was then
  local gen = redis.call('GET', KEYS[2])
  if gen then return gen end
end
redis.call('SET', KEYS[2], ARGV[2])
return ARGV[2]
"""

#: KEYS: a sprint's presence hash, its peer ids (one slot). ARGV: peer, entry. A join.
JOIN_PEER = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 1
"""

#: KEYS: a sprint's presence hash, its peer ids (one slot). ARGV: peers. Leaves.
LEAVE_PEERS = """
for i = 1, #ARGV do
  redis.call('HDEL', KEYS[1], ARGV[i])
  redis.call('ZREM', KEYS[2], ARGV[i])
end
return #ARGV
"""

#: KEYS: a sprint's peer ids, its presence hash (one slot). ARGV: the lowest id as a
#: ZRANGEBYLEX bound ('-' for the first, '(<id>' for after one), the page size. Returns
#: {count, up to size + 1 ids in order, their entries}: one consistent read.
PRESENCE_PAGE = """
local ids = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+', 'LIMIT', 0, tonumber(ARGV[2]) + 1)
local entries = {}
if #ids > 0 then entries = redis.call('HMGET', KEYS[2], unpack(ids)) end
return {redis.call('ZCARD', KEYS[1]), ids, entries}
"""

#: KEYS: a sprint's presence hash, its peer ids (one slot). ARGV: node, n, then n pairs
#: peer, entry (this node's peers, written again), then peers to remove if they are still
#: this node's. Returns {peers added, peers removed}: decided with the writes, so only real
#: changes are announced.
REGISTER_SPRINT = """
local node, n = ARGV[1], tonumber(ARGV[2])
local added, removed = {}, {}
for i = 3, 2 + 2 * n, 2 do
  if redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    table.insert(added, ARGV[i])
  end
  redis.call('ZADD', KEYS[2], 0, ARGV[i])
end
for i = 3 + 2 * n, #ARGV do
  local ok, entry = pcall(cjson.decode, redis.call('HGET', KEYS[1], ARGV[i]) or '')
  if ok and type(entry) == 'table' and entry['n'] == node then
    redis.call('HDEL', KEYS[1], ARGV[i])
    redis.call('ZREM', KEYS[2], ARGV[i])
    table.insert(removed, ARGV[i])
  end
end
return {added, removed}
"""

#: The reap of a dead node, in steps of one slot each (a survivor that dies midway leaves
#: the rest to the next: its lease expires and the node is still registered).
#: 1. KEYS: the dead node's heartbeat, sprints, generation, reaper lease (its slot). ARGV:
#: this node's id, the lease (ms). Unless the heartbeat is back or another survivor holds
#: the lease: takes it and returns {the dead generation, the sprints it had peers in}.
CLAIM_REAP = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
if not redis.call('SET', KEYS[4], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
return {redis.call('GET', KEYS[3]) or '', redis.call('SMEMBERS', KEYS[2])}
"""

#: 2. KEYS: a sprint's presence hash, channel and peer ids (its slot). ARGV: the dead node, its dead
#: generation, then pairs peer, bus bytes of its ``peer_left``. Removes each peer still
#: listed for that node and generation and publishes its ``peer_left`` in the same step:
#: whoever removes a peer announces it, so it is announced once, whatever fails around.
REAP_SPRINT = """
local node, gen, out = ARGV[1], ARGV[2], {}
for i = 3, #ARGV, 2 do
  local ok, entry = pcall(cjson.decode, redis.call('HGET', KEYS[1], ARGV[i]) or '')
  if ok and type(entry) == 'table' and entry['n'] == node and (entry['g'] or '') == gen then
    redis.call('HDEL', KEYS[1], ARGV[i])
    redis.call('ZREM', KEYS[3], ARGV[i])
    redis.call('SPUBLISH', KEYS[2], ARGV[i + 1])
    table.insert(out, ARGV[i])
  end
end
return out
"""

#: 3. KEYS: the dead node's generation, sprints, reaper lease (its slot). ARGV: the dead
#: generation, this node's id, the lease (ms), a sprint done ('' once all are). "revived"
#: if the node came back (a new generation: its entries are its own again), "lost" if the
#: lease is no longer this node's; else the sprint is crossed off and the lease renewed
#: ("ok"), or, at the end, the node's keys are deleted ("done").
REAP_STEP = """
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 'revived' end
if redis.call('GET', KEYS[3]) ~= ARGV[2] then return 'lost' end
if ARGV[4] ~= '' then
  redis.call('SREM', KEYS[2], ARGV[4])
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
  return 'ok'
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return 'done'
"""

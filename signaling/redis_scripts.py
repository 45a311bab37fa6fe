"""The Redis broker's key names and its Lua scripts (each one atomic on the Redis server).

Every key and channel starts with a prefix (``--redis-prefix``, default ``watercooler:``) so
several clusters, or tests, can share one Redis. The scripts build key names from the prefix
inside Lua (a single Redis, not Redis Cluster: there every key would have to be declared).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CLAIM_NONCE", "REAP_NODE", "RECORD_EVENT", "Keys"]


@dataclass(frozen=True, slots=True)
class Keys:
    """Names of everything the broker keeps in Redis (docs/architecture.md, Scale-out)."""

    prefix: str

    def sprint_channel(self, sprint: int) -> str:
        """Pub/sub channel of a sprint's envelopes (fan-out)."""
        return f"{self.prefix}sprint:{sprint}"

    def node_channel(self, node: str) -> str:
        """Pub/sub channel of a node's direct envelopes (``signal`` to one of its peers)."""
        return f"{self.prefix}node:{node}"

    def alive(self, node: str) -> str:
        """A node's heartbeat: a string with a TTL of ``--presence-ttl``."""
        return f"{self.prefix}node:{node}:alive"

    def node_sprints(self, node: str) -> str:
        """Set of the sprints where a node has peers (what to clean up when it dies)."""
        return f"{self.prefix}node:{node}:sprints"

    @property
    def nodes(self) -> str:
        """Set of the node ids registered (alive, or dead and not reaped yet)."""
        return f"{self.prefix}nodes"

    def presence(self, sprint: int) -> str:
        """Hash peer id -> ``{"n": node, "u": user, "t": joined}`` of every peer of a sprint."""
        return f"{self.prefix}presence:{sprint}"

    def events(self, sprint: int) -> str:
        """List of ``"<seq> <ms> <frame>"``, contiguous by seq, capped by count and age."""
        return f"{self.prefix}events:{sprint}"

    def latest(self, sprint: int) -> str:
        """The latest seq accepted for a sprint (outlives the events themselves)."""
        return f"{self.prefix}latest:{sprint}"

    def epoch(self, sprint: int) -> str:
        """The epoch of the sprint's stream (``POST /events/``), as long as its latest seq."""
        return f"{self.prefix}epoch:{sprint}"

    def nonce(self, nonce: str) -> str:
        """A ``POST /events/`` nonce already used (TTL: while its timestamp is acceptable)."""
        return f"{self.prefix}nonce:{nonce}"

    @property
    def nonces_since(self) -> str:
        """Unix second from which the nonce keys are complete (set when found missing)."""
        return f"{self.prefix}nonces-since"


#: KEYS: events list, latest key, sprint channel, epoch key.
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
if status == 'reset' then redis.call('PUBLISH', KEYS[3], ARGV[9]) end
redis.call('PUBLISH', KEYS[3], ARGV[6])
return status
"""

#: KEYS: the nonces-since key, the nonce's key. ARGV: the request's timestamp, TTL (s).
#: Returns "fresh" (the nonce is now taken), "replayed", or "stale": the timestamp is
#: before the nonce keys are complete (Redis lost them: restarted empty, or flushed), so
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

#: ARGV: prefix, dead node id. Claims the node (exactly one survivor wins: SREM from the
#: node set) unless its heartbeat is back, removes its peers from every sprint's presence
#: and returns them as a flat list sprint, peer, sprint, peer...
REAP_NODE = """
local prefix, node = ARGV[1], ARGV[2]
if redis.call('EXISTS', prefix .. 'node:' .. node .. ':alive') == 1 then return {} end
if redis.call('SREM', prefix .. 'nodes', node) == 0 then return {} end
local sprints_key = prefix .. 'node:' .. node .. ':sprints'
local out = {}
for _, sprint in ipairs(redis.call('SMEMBERS', sprints_key)) do
  local key = prefix .. 'presence:' .. sprint
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    local ok, entry = pcall(cjson.decode, fields[i + 1])
    if ok and type(entry) == 'table' and entry['n'] == node then
      redis.call('HDEL', key, fields[i])
      table.insert(out, sprint)
      table.insert(out, fields[i])
    end
  end
end
redis.call('DEL', sprints_key)
return out
"""

"""The Redis broker's key names and its Lua scripts (each one atomic on the Redis server).

Every key and channel starts with a prefix (``--redis-prefix``, default ``watercooler:``) so
several clusters, or tests, can share one Redis. The scripts build key names from the prefix
inside Lua (a single Redis, not Redis Cluster: there every key would have to be declared).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["REAP_NODE", "RECORD_EVENT", "Keys"]


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


#: KEYS: events list, latest key, sprint channel.
#: ARGV: seq, frame, max count, max age (ms), latest TTL (ms), bus bytes to publish.
#: Returns "accepted", "duplicate" or "gap", with History.append's semantics; an accepted
#: event is published in the same step, so nodes see events in seq order cluster-wide and
#: an event is never recorded without being published (or the reverse).
RECORD_EVENT = """
local seq = tonumber(ARGV[1])
local latest = tonumber(redis.call('GET', KEYS[2]))
if latest then
  if seq <= latest then return 'duplicate' end
  if seq ~= latest + 1 then return 'gap' end
else
  redis.call('DEL', KEYS[1])
end
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
redis.call('PUBLISH', KEYS[3], ARGV[6])
return 'accepted'
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

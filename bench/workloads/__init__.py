"""The benchmark's workloads, one module each, so that one benchmark reads in one place.

Every module has ``run(profile)``, the coordinator (it starts the servers, runs load
generators in their own processes and samples the servers at their marks: `bench.harness`),
the load generator mode it runs (``generate(spec)``, started by `bench.loadgen`) and its
section of the report (``section(data)``), plus ``plot`` and ``bounds`` (the evidence for a
missed target) where it has them.

| module | workload | load generator mode | report |
| --- | --- | --- | --- |
| `connections` | 1. idle connections held | ``hold`` | section 1, memory plot |
| `fanout` | 2. events to S subscribers, closed and open loop | ``fanout`` | section 2, two plots |
| `relay` | 3. drag moves between two websocket clients | ``relay`` | section 3, relay plot |
| `e2e` | 4. REST ``PATCH`` until 100 subscribers have it | ``e2e`` | section 4 |
| `p2p` | 5. aiortc peers dragging, channels vs relay | ``p2p`` | section 5 |
| `scaleout` | 6. fan-out over 1-3 nodes sharing Redis | ``fanout`` | section 6 |
| `side_by_side` | 7. ratios of 2-4 (no run of its own) | | section 7 |
| `drops` | 8. a drop, the old client's requests and one move | ``drops`` | section 8 |
| `rebalance` | 8. rank rebalances per move (Django in its own process) | | section 8 |
| `sse` | 9. SSE fan-out and idle SSE streams beside websockets and Channels | ``sse`` | section 9 |
"""

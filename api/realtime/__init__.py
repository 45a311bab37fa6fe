"""The Django side of the realtime protocol: tickets, the event outbox and its publisher."""

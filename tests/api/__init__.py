"""Tests of the Django API (`api/`): board REST endpoints, realtime tickets, outbox, publisher."""

"""Tests of `peer/`: pure units first, then real aiortc peers against the real realtime server."""

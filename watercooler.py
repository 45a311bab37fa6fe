#!/usr/bin/env python3
"""Watercooler's realtime server: ``python3 watercooler.py [--debug] [--port 8080]``."""

import sys

from signaling.server import main

if __name__ == "__main__":
    sys.exit(main())

"""``python -m peer``: see `peer.cli`."""

from peer.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

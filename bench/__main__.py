"""``python -m bench [--quick | --full | --smoke]``: see bench/README.md."""

import sys

from bench.cli import main

sys.exit(main())

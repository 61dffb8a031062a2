"""python -m utils.sweep: see utils/sweep/command.py."""

import sys

from .command import main

sys.exit(main())

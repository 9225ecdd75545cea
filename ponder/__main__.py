"""``python -m ponder`` is the ``ponder`` command."""

import sys

from ponder.cli import main

sys.exit(main())

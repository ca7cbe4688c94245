"""``python -m ntkspec.cli``: the same as the ``ntkspec`` command."""

import sys

from ntkspec.cli import main

sys.exit(main())

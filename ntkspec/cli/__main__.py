"""``python -m ntkspec.cli``: the same as the ``ntkspec`` command."""

import sys

from ntkspec.cli import main

if __name__ == "__main__":
    sys.exit(main())

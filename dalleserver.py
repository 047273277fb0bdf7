"""Entry point for PyInstaller (and ``python dalleserver.py``)."""

import sys

from dalleserver.cli import main

if __name__ == "__main__":
    sys.exit(main())

"""Allow ``python -m dalleserver``."""

import sys

from dalleserver.cli import main

if __name__ == "__main__":
    sys.exit(main())

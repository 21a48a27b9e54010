"""`python -m userapi`: serve the User API (see userapi.cli for the flags)."""

import sys

from userapi.cli import main

if __name__ == "__main__":
    sys.exit(main())

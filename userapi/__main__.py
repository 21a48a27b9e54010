"""`python -m userapi`: serve the User API (see userapi.server.main for the flags)."""

import sys

from userapi.server import main

if __name__ == "__main__":
    sys.exit(main())

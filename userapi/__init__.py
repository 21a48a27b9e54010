"""userapi: the Thoth User API v1 server of thamos.

The spec (openapi.yaml) is served by connexion; analyses are kept in SQLite and run by the
adviser in a pool of worker processes. Start it with `python -m userapi` or `thamos serve`.
"""

import warnings

# connexion imports starlette's test client, which warns about its httpx backend on every start
# of the server and of each worker; it is not used here.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

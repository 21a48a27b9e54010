"""userapi: the Thoth User API v1 server of thamos.

The spec (openapi.yaml) is served by connexion; analyses are kept in SQLite and run by the
adviser in a pool of worker processes. Start it with `python -m userapi` or `thamos serve`.
"""

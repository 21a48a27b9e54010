"""The subcommands of ``thamos``, one module per group; ``thamos.cli`` registers them on the root group.

- ``project``: the project's requirements, lock, virtualenv and installation (add, remove, install, run,
  venv, purge, verify)
- ``analyses``: analyses on the backend (advise, provenance-check, status, log, results, diff, graph)
- ``environments``: this machine's runtime environments and .thoth.yaml (config, check, list, show,
  discover, support, version)
- ``listings``: what the backend knows (environments, images, indexes, whatprovides)
- ``prescriptions``: the prescription repositories the backend applies
- ``serve``: the User API backend
- ``team``: a team server's workers and database (worker, db upgrade)
- ``options``: the options, arguments and state the groups share
"""

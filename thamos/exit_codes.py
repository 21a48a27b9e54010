"""Exit codes of the ``thamos`` command.

Each failure class has its own code so scripts (CI jobs, s2i builds) can react to the cause
without parsing messages. Code 2 is shared with click, which uses it for usage errors.

``thamos serve`` runs until it is asked to stop: after SIGINT (Ctrl-C) or SIGTERM it shuts down
gracefully and exits with OK (0), as service managers expect of a requested stop. It exits with
BAD_INPUT for unusable settings and GENERIC_ERROR when the server fails (e.g. the port is taken).
"""

OK = 0
#: Any failure not covered below (including unexpected internal errors).
GENERIC_ERROR = 1
#: Wrong command line usage or bad input files (malformed Pipfile, bad --labels, ...).
BAD_INPUT = 2
#: Missing, malformed or invalid ``.thoth.yaml`` (or an unknown runtime environment).
CONFIGURATION_ERROR = 3
#: The backend could not be reached or kept answering with server errors (5xx).
BACKEND_UNREACHABLE = 4
#: The analysis finished with an error (for example the stack cannot be resolved).
ANALYSIS_FAILED = 5
#: The analysis did not finish within THAMOS_TIMEOUT seconds.
TIMEOUT = 6
#: A lock file does not match its input file, or installed packages differ from the lock.
LOCK_MISMATCH = 7
#: Interrupted by the user (Ctrl-C); files are left as they were (not for ``thamos serve``, see above).
INTERRUPTED = 130

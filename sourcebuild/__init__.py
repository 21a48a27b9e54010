"""sourcebuild: the core metadata of an sdist or a source tree, built the way pip and uv build it.

Some releases publish no static metadata: old sdists (a setup.py computes ``install_requires``),
sdists whose PKG-INFO says ``Dynamic: Requires-Dist``, local path packages and VCS checkouts. Their
dependencies are known only after running their build backend. :func:`prepare_metadata` does
that: it asks the backend for ``prepare_metadata_for_build_wheel`` (PEP 517) and, when the
backend lacks the hook, builds the wheel and reads the METADATA inside it. pypa/build's
``ProjectBuilder.metadata_path`` does both; pyproject_hooks runs the hooks. Nothing here is a
hand-written PEP 517 frontend.

Usage::

    from sourcebuild import BuildLimits, IndexConfig, find_interpreter, prepare_metadata
    interpreter = find_interpreter("3.9")            # matched=False: a fallback, say so
    built = prepare_metadata(Path("psycopg2-2.9.9.tar.gz"), interpreter=interpreter,
                             indexes=IndexConfig("https://index.example/simple/"),
                             limits=BuildLimits(timeout=120), log=print)
    built.metadata   # METADATA bytes; BuildFailed(reason, permanent) when there are none

The target interpreter
    A setup.py may compute its requirements from the running Python, so the backend runs on the
    target's version. :func:`find_interpreter` looks, in this order, at the operator's list
    (``extra_paths``; the os.pathsep-separated executables in ``THAMOS_BUILD_PYTHONS``),
    ``pythonX.Y`` on PATH, pyenv (``$PYENV_ROOT/versions`` or ``~/.pyenv/versions``), uv-managed
    Pythons (``~/.local/share/uv/python``) and the running interpreter. An exact patch release wins
    when one is asked for, else the newest patch. With none of the wanted minor (or a target
    older than 3.7, which the hook wrapper cannot run on) the running interpreter is used with
    ``matched=False``, and the start log line says so. To offer more versions, an operator
    installs them (pyenv, uv, distribution packages) or lists them in ``THAMOS_BUILD_PYTHONS``.

Isolation: a fresh environment per build
    Each build gets a new temporary folder (under ``workdir`` or the system's), removed at the
    end whatever happened, and a new venv of the target Python (``-m venv --without-pip``). The
    build requirements (``[build-system] requires``, else pypa/build's default
    ``setuptools >= 40.8.0`` for a legacy setup.py, then what ``get_requires_for_build_wheel``
    adds) are installed by pip from the given indexes only, never with the machine's or the
    user's pip configuration. ``wheel`` is not added by hand: setuptools before 70.1 asks for it
    through ``get_requires_for_build_wheel``, later ones need none. The pip of the running
    interpreter drives the target (``pip --python``) when it supports it; older targets use the
    pip wheel their own ensurepip bundles. Nothing is shared between builds: no cache, no venv.
    Build requirements must be PEP 508 requirements of index packages (no URLs).

Isolation: the sandbox
    The build runs code from an index, possibly on a team's shared server. Everything (unpacking,
    venv, installing, hooks) happens in a separate process (``python -I -m sourcebuild._sandbox``
    in effect, the request on stdin) that starts its own process group, in the temporary folder,
    with an environment made from scratch: PATH, C.UTF-8 locale, HOME and TMPDIR inside the
    folder, SOURCE_DATE_EPOCH, PYTHONHASHSEED, nothing else: no tokens, no ``THAMOS_*``, no
    ``PG*``/``DATABASE_URL``, no index credentials. Index URLs (which may carry credentials) and
    the HTTP(S)_PROXY settings reach the pip step only, through its arguments and environment; the
    backend's hook processes run with the clean environment (a custom pyproject_hooks runner).
    Messages, log lines and the metadata are redacted anyway: URL credentials, the indexes'
    credentials and the values of the caller's secret-looking environment variables become ``***``.

    With bubblewrap (Debian package ``bubblewrap``) on PATH and able to create a sandbox here, the
    hooks run inside it automatically: read-only root, new PID/network/IPC/user namespaces (no
    network for the hooks), only the build's folder writable, the user's home, /tmp, /run, pip's
    and netrc's system files and the caller's working folder masked (``hidden_paths`` adds more,
    e.g. a server's data folder), the target Python and the hook wrapper bound back read-only,
    ``--die-with-parent``. ``THAMOS_BUILD_SANDBOX`` (or ``sandbox=``) chooses: ``auto`` (default:
    bwrap when usable), ``bwrap`` (required: a build fails when it is not usable) or ``none``.
    Without bwrap a hostile build still runs as the caller's user: it can read whatever that user
    can (files, other processes' /proc entries) and reach the network. Run a shared server as a
    dedicated user, or install bubblewrap. In both modes, the pip step may build a build
    requirement that has no wheel, running its code next to the index credentials.

Limits (:class:`BuildLimits`)
    ``timeout``: wall clock of the whole build; at expiry the whole process group is killed (and
    any process carrying the build's marker variable, for those that left the group), the folder
    removed, and ``BuildFailed("<step> did not finish within N s", permanent=False)`` raised.
    ``memory_mb``: RLIMIT_AS of every build process (a backend that needs more fails with
    "ran out of memory (the limit is N MB)"). ``output_kb``: the tail of each step's output kept
    for the reason (the rest dropped). ``max_source_mb``: ceiling of an sdist archive or a
    source tree (an archive may unpack to four times it). RLIMIT_FSIZE caps a single file;
    RLIMIT_CORE is 0; RLIMIT_NPROC is set above the user's current count for non-root users
    (root ignores it; it counts every process of the user, so a low value would break the caller).

Failures
    :class:`BuildFailed` has ``reason``: one line, the step that failed and the last meaningful
    error line of its output (``getting the build requirements (get_requires_for_build_wheel)
    failed: pg_config executable not found``), ``permanent`` (False for time-outs, index and
    network trouble, a missing sandbox: worth retrying later), ``stage`` and the redacted
    ``output`` tail. Never a traceback. Unsafe archives (absolute paths, ``..``, links leaving the
    folder, devices) are refused with tarfile's ``data`` filter.
"""

from sourcebuild.interpreters import find_interpreter
from sourcebuild.model import BuildFailed, BuildLimits, BuiltMetadata, IndexConfig, Interpreter
from sourcebuild.prepare import prepare_metadata

__all__ = [
    "BuildFailed",
    "BuildLimits",
    "BuiltMetadata",
    "IndexConfig",
    "Interpreter",
    "find_interpreter",
    "prepare_metadata",
]

"""Running the server: `run_server(...)` for `thamos serve`, `main()` for `python -m userapi`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from userapi.settings import DEFAULT_HOST, DEFAULT_PORT, ServerSettings, SettingsError, load_settings
from userapi.store import StoreError

LOGGER = logging.getLogger("userapi")


class ServerError(RuntimeError):
    """The server cannot start; the message says why in plain words."""


def run_server(
    settings: ServerSettings | None = None, *, config_file: str | Path | None = None, **options: Any
) -> int:
    """Serve the User API until SIGINT/SIGTERM (or the idle timeout); return an exit code.

    `options` are ServerSettings field names (host, port, data_dir, cache_dir, token, certfile,
    keyfile, workers, idle_timeout, result_ttl, max_request_bytes, container_images,
    default_index, known_indexes, advisory_db, page_ttl, db_path, log_level, builds, build_timeout,
    build_memory_mb, build_max_source_mb, build_pythons); None values are
    ignored, so unset CLI flags fall back to the environment and the defaults.
    Raises ServerError for bad settings or an unusable data directory.
    """
    import uvicorn

    from userapi.app import create_app

    try:
        if settings is None:
            settings = load_settings(config_file, **options)
        else:
            settings.validate()
    except SettingsError as exc:
        raise ServerError(str(exc)) from None
    _configure_logging(settings.log_level)

    server: uvicorn.Server | None = None

    def stop_when_idle() -> None:
        if server is not None:
            server.should_exit = True

    try:
        app = create_app(settings, on_idle=stop_when_idle)
    except (SettingsError, StoreError) as exc:
        raise ServerError(str(exc)) from None
    except OSError as exc:
        raise ServerError(f"cannot prepare {exc.filename or 'the data directory'}: {exc.strerror}") from None
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(settings.certfile) if settings.certfile else None,
        ssl_keyfile=str(settings.keyfile) if settings.keyfile else None,
        log_level=settings.log_level,
        lifespan="on",
        timeout_graceful_shutdown=5,
        server_header=False,
        access_log=settings.log_level == "debug",
    )
    server = uvicorn.Server(config)
    try:
        server.run()
    except OSError as exc:
        raise ServerError(f"cannot serve on {settings.host}:{settings.port}: {exc.strerror or exc}") from None
    except SystemExit as exc:  # uvicorn exits on startup failures (e.g. port in use), logged already
        return int(exc.code or 1)
    return 0 if server.started else 1


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m userapi",
        description="Serve the Thoth User API v1 (analyses run by the thamos adviser).",
    )
    add = parser.add_argument
    add("--host", help=f"address to listen on (default {DEFAULT_HOST}; THAMOS_SERVER_HOST)")
    add("--port", type=int, help=f"port to listen on (default {DEFAULT_PORT}; THAMOS_SERVER_PORT)")
    add("--data-dir", help="where the analyses database lives (THAMOS_DATA_DIR)")
    add("--cache-dir", help="where the adviser caches index data (THAMOS_CACHE_DIR)")
    add("--db", dest="db_path", help="SQLite file of the analyses (default DATA_DIR/analyses.db)")
    add("--token", help="require this bearer token to submit and read analyses (THAMOS_SERVER_TOKEN)")
    add("--token-file", help="read the token from this file (keeps it out of the process list)")
    add("--certfile", help="TLS certificate (PEM); serve HTTPS (THAMOS_SERVER_CERTFILE)")
    add("--keyfile", help="TLS private key (PEM) (THAMOS_SERVER_KEYFILE)")
    add("--workers", type=int, help="analyses run in parallel (default 2)")
    add("--idle-timeout", type=float, help="exit after this many idle seconds (embedded use)")
    add("--result-ttl", type=float, help="seconds an identical request reuses an earlier analysis")
    add("--max-request-bytes", type=int, help="largest accepted request body (default 4 MiB)")
    add("--container-images", help="YAML/JSON list of container images to offer")
    add("--default-index", help="index used when a request names none: URL or NAME=URL")
    add(
        "--known-index",
        dest="known_indexes",
        action="append",
        help="extra index (URL or NAME=URL); repeatable",
    )
    add("--advisory-db", help="OSV advisory database: directory or archive (THAMOS_ADVISORY_DB)")
    add("--page-ttl", type=float, help="seconds index pages stay fresh in the cache (default 3600)")
    add(
        "--builds",
        metavar="always|never|NAME[,NAME...]",
        help="build sdists whose dependencies only a build tells: always (default), never, or only "
        "these packages (THAMOS_BUILDS)",
    )
    add(
        "--build-timeout",
        metavar="SECONDS",
        help="time limit of one build (default 120; THAMOS_BUILD_TIMEOUT)",
    )
    add("--build-memory", dest="build_memory_mb", metavar="MB", help="memory limit of a build (default 2048)")
    add(
        "--build-python",
        dest="build_pythons",
        action="append",
        metavar="PATH",
        help="interpreter to build with for targets of its version; repeatable (THAMOS_BUILD_PYTHONS)",
    )
    add("--config", dest="config_file", help="YAML/JSON settings file (THAMOS_SERVER_CONFIG)")
    add("--log-level", choices=["critical", "error", "warning", "info", "debug"], help="default info")
    return parser


def main(argv: list[str] | None = None) -> int:
    options = vars(build_parser().parse_args(argv))
    token_file = options.pop("token_file", None)
    if token_file:
        try:
            options["token"] = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            print(f"error: cannot read the token file {token_file}: {exc.strerror}", file=sys.stderr)
            return 2
    try:
        return run_server(**options)
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130

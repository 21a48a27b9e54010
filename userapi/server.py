"""Running the server: `run_server(...)`, for `python -m userapi` and `thamos serve` (userapi.cli)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import uvicorn

from userapi.app import create_app
from userapi.settings import ServerSettings, SettingsError, load_settings
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

"""``thamos serve``: the User API backend in the foreground, until SIGINT/SIGTERM."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import click

from ..exceptions import BadInputError, ThamosError
from .options import state


class _StopServing(KeyboardInterrupt):
    """SIGINT/SIGTERM asked `thamos serve` to stop (raised once the server has shut down)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signal_name = signal.Signals(signum).name


def _raise_stop(signum: int, _frame: Any) -> None:
    raise _StopServing(signum)


@click.command("serve")
@click.option("--host", "bind_host", metavar="ADDRESS",
              help="Address to listen on (default THAMOS_SERVER_HOST, else 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535),
              help="Port to listen on (default THAMOS_SERVER_PORT, else 9876).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True),
              help="YAML/JSON settings file of the server (THAMOS_SERVER_CONFIG).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where analyses are stored (THAMOS_DATA_DIR).")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Adviser cache (THAMOS_CACHE_DIR).")
@click.option("--token", help="Require this bearer token for analyses (THAMOS_SERVER_TOKEN).")
@click.option("--certfile", type=click.Path(dir_okay=False, exists=True), help="TLS certificate (PEM).")
@click.option("--keyfile", type=click.Path(dir_okay=False, exists=True), help="TLS private key (PEM).")
@click.option("--workers", type=click.IntRange(min=1), help="Analyses computed in parallel.")
@click.option("--builds", metavar="always|never|NAME[,NAME...]",
              help="Build sdists whose dependencies only a build tells: always (default), never, or only "
                   "these packages (THAMOS_BUILDS).")
@click.option("--build-timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Time limit of one build, default 120 (THAMOS_BUILD_TIMEOUT).")
@click.option("--build-memory", type=click.IntRange(min=64), metavar="MB",
              help="Memory limit of a build, default 2048 (THAMOS_BUILD_MEMORY).")
@click.option("--build-python", "build_pythons", multiple=True, metavar="PATH",
              help="Interpreter to build with for targets of its version; repeatable (THAMOS_BUILD_PYTHONS).")
def serve_command(bind_host: str | None, port: int | None, config_file: str | None, data_dir: str | None,
                  cache_dir: str | None, token: str | None, certfile: str | None, keyfile: str | None,
                  workers: int | None, builds: str | None, build_timeout: float | None,
                  build_memory: int | None, build_pythons: tuple[str, ...]) -> None:
    """Run the User API backend (for a team, or behind TLS) until SIGINT/SIGTERM.

    Options left out fall back to the THAMOS_SERVER_* variables, then to the settings file.
    A requested shutdown (Ctrl-C, SIGTERM) exits with 0.
    """
    if bool(certfile) != bool(keyfile):
        raise click.UsageError("--certfile and --keyfile go together")
    try:
        from userapi.server import ServerError, run_server  # imported here: the client never needs it
    except ImportError as exc:
        raise ThamosError(f"The backend is not installed (pip install 'thamos[server]'): {exc}") from None
    options: dict[str, Any] = {
        # None leaves a setting to the environment, the settings file and the server's defaults.
        "host": bind_host,
        "port": port,
        "data_dir": Path(data_dir) if data_dir else None,
        "cache_dir": Path(cache_dir) if cache_dir else None,
        "token": token,
        "certfile": Path(certfile) if certfile else None,
        "keyfile": Path(keyfile) if keyfile else None,
        "workers": workers,
        "builds": builds,
        "build_timeout": build_timeout,
        "build_memory_mb": build_memory,
        "build_pythons": list(build_pythons) or None,
    }
    # uvicorn shuts down gracefully on these signals, then raises them again; handled here, that
    # ends the command with a message and status 0 instead of a death by signal (-15) or 130.
    previous = {number: signal.signal(number, _raise_stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = run_server(config_file=config_file, **{key: value for key, value in options.items()
                                                       if value is not None})
    except ServerError as exc:
        raise BadInputError(f"Cannot start the server: {exc}") from None
    except _StopServing as stop:
        state().ui.message("ok", f"Server stopped ({stop.signal_name})")
        return
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if code:
        raise ThamosError(f"The server stopped with an error (status {code}); see its messages above")


COMMANDS = (serve_command,)

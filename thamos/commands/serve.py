"""``thamos serve``: the User API backend in the foreground, until SIGINT/SIGTERM."""

from __future__ import annotations

import signal
from typing import Any

import click

from userapi.cli import load_from_flags, server_options
from userapi.options import SettingsError

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
@server_options
def serve_command(**flags: Any) -> None:
    """Run the User API backend (for a team, or behind TLS) until SIGINT/SIGTERM.

    The flags are those of `python -m userapi`. Options left out fall back to the THAMOS_*
    variables, then to the settings file. A requested shutdown (Ctrl-C, SIGTERM) exits with 0.
    """
    try:
        # Imported when serving: connexion and uvicorn come with the server extra, which the client lacks.
        from userapi.server import ServerError, run_server
    except ImportError as exc:
        raise ThamosError(f"The backend is not installed (pip install 'thamos[server]'): {exc}") from None
    try:
        settings = load_from_flags(flags)
    except SettingsError as exc:
        raise BadInputError(f"Cannot start the server: {exc}") from None
    # uvicorn shuts down gracefully on these signals, then raises them again; handled here, that
    # ends the command with a message and status 0 instead of a death by signal (-15) or 130.
    previous = {number: signal.signal(number, _raise_stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = run_server(settings)
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

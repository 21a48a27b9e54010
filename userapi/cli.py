"""The server's command line, built from the options of userapi.options: ``python -m userapi``
(``main``), and what ``thamos serve`` shares with it (``server_options``, ``load_from_flags``).

Importing this module stays cheap (no connexion, no uvicorn): thamos imports it for its serve
command, and the analysis workers, spawned, import ``userapi.__main__`` and with it this module.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from userapi.options import FLAGS, OPTIONS, SettingsError
from userapi.settings import ServerSettings, load_settings

# Exit codes of `python -m userapi` (thamos serve has its own, thamos.exit_codes).
BAD_SETTINGS = 2
INTERRUPTED = 130


def server_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add a flag for each option of userapi.options that has one; each arrives named by its key.

    Values stay text here: load_settings reads and checks them, with the file and the variables.
    """
    for option in reversed(FLAGS):
        command = click.option(
            option.flag,
            option.key,
            metavar=option.metavar,
            multiple=option.repeatable,
            help=option.help_text(),
        )(command)
    return command


def load_from_flags(flags: dict[str, Any]) -> ServerSettings:
    """Settings from the flags given over the environment, the settings file and the defaults.

    A bad value that came from a flag is reported naming the flag too; --token-file is read here.
    """
    given = {key: value for key, value in flags.items() if value is not None and value != ()}
    config_file = given.pop("config_file", None)
    token_file = given.pop("token_file", None)
    flag_of = {key: OPTIONS[key].flag for key in given}
    if token_file:
        flag_of["token"] = OPTIONS["token_file"].flag
        try:
            given["token"] = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"cannot read the token file {token_file}: {exc.strerror}") from None
    overrides = {key: list(value) if isinstance(value, tuple) else value for key, value in given.items()}
    try:
        return load_settings(config_file, **overrides)
    except SettingsError as exc:
        if exc.key in flag_of:
            raise SettingsError(f"{exc} (set by {flag_of[exc.key]})", exc.key) from None
        raise


@click.command(
    help="Serve the Thoth User API v1 (analyses run by the thamos adviser).",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@server_options
def serve(**flags: Any) -> int:
    try:
        settings = load_from_flags(flags)
    except SettingsError as exc:
        return _refused(exc)
    if settings.database_url is None:  # analyses run in this server's own worker processes
        # Here, not at the top: thamos imports this module for its serve command's options, and
        # multiprocessing would add ~9 ms to every thamos command.
        from userapi.processes import start_worker_imports

        start_worker_imports()
    # Imported when serving: connexion and uvicorn (~1 s) are not for thamos or the spawned workers.
    from userapi.server import ServerError, run_server

    try:
        return run_server(settings)
    except ServerError as exc:
        return _refused(exc)


def _refused(exc: Exception) -> int:
    click.echo(f"error: {exc}", err=True)
    return BAD_SETTINGS


def main(argv: list[str] | None = None) -> int:
    """``python -m userapi``: serve until SIGINT/SIGTERM (or the idle timeout); return the exit code."""
    try:
        return serve.main(args=argv, prog_name="python -m userapi", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        return INTERRUPTED

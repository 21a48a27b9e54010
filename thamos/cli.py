"""The ``thamos`` command: the root group with the global options, and ``main``.

The subcommands live in ``thamos.commands``, one module per group. Errors are printed as one line
(details with --verbose) and mapped to the exit codes documented in ``thamos.exit_codes``; no command
prints a traceback for an expected failure.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading

import click

from . import exit_codes
from .commands import analyses, environments, listings, prescriptions, project, serve, team
from .commands.options import State
from .config import config
from .exceptions import ThamosError
from .render import Ui

_LOGGER = logging.getLogger("thamos")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("-v", "--verbose", is_flag=True, envvar="THAMOS_VERBOSE", help="Show what thamos does (THAMOS_VERBOSE).")
@click.option(
    "--debug", is_flag=True, envvar="THAMOS_DEBUG", help="Ask the backend to run analyses in debug mode (THAMOS_DEBUG)."
)
@click.option("--no-emoji", is_flag=True, envvar="THAMOS_NO_EMOJI", help="Plain text markers (THAMOS_NO_EMOJI).")
@click.option("-t", "--host", "--thoth-host", "host", metavar="URL",
              help="Backend to use instead of the configured one (--thoth-host: thamos 1.x).")
@click.option("-d", "--workdir", type=click.Path(exists=True, file_okay=False), metavar="DIR",
              help="Work in DIR instead of the current directory.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, debug: bool, no_emoji: bool, host: str | None,
        workdir: str | None) -> None:
    """Recommended, locked and explained Python software stacks for your runtime environment."""
    if workdir:
        os.chdir(workdir)  # before anything finds .thoth.yaml: the configuration is read lazily
    state = ctx.ensure_object(State)  # main() passes its own, to report a failure with the same Ui
    state.ui = Ui(verbose=verbose, no_emoji=no_emoji)
    state.debug = debug
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        # The generated client logs full bodies at DEBUG; keep it quiet unless asked.
        logging.getLogger("swagger_client").setLevel(logging.WARNING)
        logging.getLogger("urllib3").setLevel(logging.ERROR)
    if host:
        config.explicit_host = host


for _group in (project, analyses, environments, listings, prescriptions, serve, team):
    for _command in _group.COMMANDS:
        cli.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run the command and turn every failure into one line and an exit code."""
    # Its Ui follows the variables until the root group has read --verbose and --no-emoji.
    state = State()
    try:
        result = cli.main(args=argv, prog_name="thamos", standalone_mode=False, obj=state)
    except click.exceptions.Abort:
        _echo_error(state.ui, "Interrupted")
        return _exit(exit_codes.INTERRUPTED)
    except KeyboardInterrupt:
        _echo_error(state.ui, "Interrupted; files were left as they were")
        return _exit(exit_codes.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        return _exit(exc.exit_code)
    except ThamosError as exc:
        _echo_error(state.ui, exc.message, exc.detail)
        return _exit(exc.exit_code)
    except BrokenPipeError:
        return _exit(exit_codes.GENERIC_ERROR)
    except Exception as exc:  # noqa: BLE001 - last resort: one line, traceback only in verbose mode
        _LOGGER.debug("Unexpected error", exc_info=True)
        _echo_error(state.ui, f"Unexpected error: {type(exc).__name__}: {exc} (run with --verbose for details)")
        return _exit(exit_codes.GENERIC_ERROR)
    return _exit(result if isinstance(result, int) else exit_codes.OK)


def run() -> None:
    """The installed ``thamos`` script and ``python -m thamos``: ``main``, then the end of the process.

    At exit the interpreter frees, one by one, the objects of the ~450 modules a command imports:
    ~50 ms, a tenth of a warm ``thamos advise``. When no other thread runs, the process ends without
    that, after doing what matters of it: exit handlers run, output is flushed. Otherwise (threads
    to wait for) it ends as usual.
    """
    code = main()
    if threading.active_count() == 1 and hasattr(atexit, "_run_exitfuncs"):
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said
                pass
        os._exit(code)
    sys.exit(code)


def _echo_error(ui: Ui, message: str, detail: str | None = None) -> None:
    # One line, whatever the message carries (backend messages may hold newlines and carets).
    ui.error(" ".join(message.split()), detail)


def _exit(code: int) -> int:
    sys.stdout.flush()
    return code

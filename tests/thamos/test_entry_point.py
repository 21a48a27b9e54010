"""The installed ``thamos`` script (``thamos.cli.run``): main's exit code, and what the end of the
process must still do when it skips the interpreter's teardown."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from thamos import exit_codes

SCRIPT = textwrap.dedent(
    """
    import atexit, sys, threading, time
    from thamos import cli

    atexit.register(lambda: sys.stdout.write("exit handler ran"))  # no newline: only a flush shows it
    if "--with-thread" in sys.argv:
        sys.argv.remove("--with-thread")
        threading.Thread(target=lambda: (time.sleep(0.3), print("thread finished"))).start()
    sys.argv = ["thamos", *sys.argv[1:]]
    cli.run()
    print("never printed: run() ends the process")
    """
)


def _run(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SCRIPT, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def test_the_script_ends_with_mains_code_after_exit_handlers_and_flushed_output(tmp_path):
    done = _run("status", "not-an-analysis-id", cwd=tmp_path)
    assert done.returncode == exit_codes.BAD_INPUT, done.stderr
    assert done.stdout.endswith("exit handler ran")
    assert "never printed" not in done.stdout and "Traceback" not in done.stderr


def test_the_script_waits_for_a_running_thread(tmp_path):
    done = _run("status", "not-an-analysis-id", "--with-thread", cwd=tmp_path)
    assert done.returncode == exit_codes.BAD_INPUT, done.stderr
    assert "thread finished" in done.stdout and done.stdout.endswith("exit handler ran")

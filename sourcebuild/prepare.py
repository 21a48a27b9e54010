"""prepare_metadata: the caller's side of a build (checks, sandbox process, time limit, cleanup)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from packaging.version import InvalidVersion, Version

from sourcebuild.confine import (
    base_environment,
    choose_sandbox,
    hidden_defaults,
    kill_group,
    kill_marked,
    remove_tree,
)
from sourcebuild.interpreters import MINIMUM_TARGET
from sourcebuild.model import BuildFailed, BuildLimits, BuiltMetadata, IndexConfig, Interpreter
from sourcebuild.redaction import Redactor, environment_secrets, url_secrets
from sourcebuild.unpack import ARCHIVE_SUFFIXES, MiB, is_archive

_STAGE_PREFIX = "sourcebuild-stage: "  # the same as sourcebuild._sandbox.STAGE_PREFIX (not imported: heavy)
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
# The sandbox process starts with -I (no PYTHONPATH, no user site, no cwd on sys.path); these
# folders let it import sourcebuild and its libraries wherever they are installed.
_BOOT = "import json, sys; sys.path[:0] = json.loads(sys.argv[1]); from sourcebuild._sandbox import main; main()"
_REAP_SECONDS = 10.0


def _import_roots() -> list[str]:
    import build
    import packaging
    import pyproject_hooks

    import sourcebuild

    roots = [os.path.dirname(os.path.dirname(os.path.abspath(module.__file__ or "")))
             for module in (sourcebuild, build, pyproject_hooks, packaging)]
    return list(dict.fromkeys(roots))


def _check_source(source: Path, limits: BuildLimits) -> None:
    if not source.exists():
        raise BuildFailed(f"{source.name or source} does not exist", stage="reading the source")
    if source.is_dir():
        return
    if not is_archive(source):
        raise BuildFailed(f"{source.name} is neither a source folder nor an sdist ({', '.join(ARCHIVE_SUFFIXES)})",
                          stage="reading the source")
    size = source.stat().st_size
    if size > limits.max_source_mb * MiB:
        raise BuildFailed(f"{source.name} is {size / MiB:.0f} MB, over the {limits.max_source_mb} MB ceiling "
                          "for a source archive", stage="reading the source")


def _check_interpreter(interpreter: Interpreter) -> None:
    if not (os.path.isfile(interpreter.path) and os.access(interpreter.path, os.X_OK)):
        raise BuildFailed(f"the build interpreter {interpreter.path} is not an executable file", permanent=False,
                          stage="choosing the interpreter")
    try:
        too_old = Version(interpreter.version).release[:2] < MINIMUM_TARGET
    except InvalidVersion:
        too_old = True
    if too_old:
        raise BuildFailed(f"{interpreter.implementation} {interpreter.version} cannot run build backends "
                          "(Python 3.7 or newer is needed)", stage="choosing the interpreter")


def _request(source: Path, work: Path, interpreter: Interpreter, indexes: IndexConfig, limits: BuildLimits,
             sandbox: str, hidden: Sequence[str]) -> dict:
    return {
        "source": str(source.resolve()),
        "work": str(work),
        "interpreter": {"path": interpreter.path, "version": interpreter.version},
        "indexes": {"index_url": indexes.index_url, "extra_index_urls": list(indexes.extra_index_urls),
                    "ca_bundle": indexes.ca_bundle},
        # The installer reaches the indexes the way the resolution does: through the same proxies.
        "proxies": {name: os.environ[name] for name in _PROXY_VARIABLES if os.environ.get(name)},
        "limits": {"timeout": limits.timeout, "memory_mb": limits.memory_mb, "output_kb": limits.output_kb,
                   "max_source_mb": limits.max_source_mb},
        "sandbox": sandbox,
        "hidden": [*hidden_defaults(os.getcwd()), *hidden],
    }


def _last_stage(stderr: bytes) -> str:
    stages = [line[len(_STAGE_PREFIX):] for line in stderr.decode("utf-8", "replace").splitlines()
              if line.startswith(_STAGE_PREFIX)]
    return stages[-1] if stages else "starting the build"


def _run_sandbox(request: dict, work: Path, limits: BuildLimits) -> dict:
    """Run the sandbox process to its answer, or kill its whole process group at the deadline."""
    marker = uuid.uuid4().hex
    process = subprocess.Popen(
        [sys.executable, "-I", "-c", _BOOT, json.dumps(_import_roots())],
        cwd=work, env=base_environment(work, marker), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        try:
            stdout, stderr = process.communicate(json.dumps(request).encode(), timeout=limits.timeout)
        except subprocess.TimeoutExpired:
            kill_group(process.pid)
            kill_marked(marker)
            stdout, stderr = _reap(process)
            stage = _last_stage(stderr)
            raise BuildFailed(f"{stage} did not finish within {limits.timeout:g} s", permanent=False,
                              stage=stage) from None
    finally:
        kill_group(process.pid)  # daemons a backend left behind die with the build
        kill_marked(marker)
        if process.poll() is None:
            _reap(process)
    try:
        return json.loads(stdout.decode("utf-8"))
    except ValueError:
        stage = _last_stage(stderr)
        status = process.returncode
        why = "was killed (out of memory?)" if status and status < 0 else f"ended with status {status}"
        raise BuildFailed(f"{stage} failed: the build process {why}", permanent=False, stage=stage) from None


def _reap(process: subprocess.Popen) -> tuple[bytes, bytes]:
    try:
        return process.communicate(timeout=_REAP_SECONDS)
    except subprocess.TimeoutExpired:  # a pipe held open by something that escaped every kill
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        process.wait(timeout=_REAP_SECONDS)
        return b"", b""


def _emit(log: Callable[[str], None] | None, line: str) -> None:
    if log is not None:
        log(line)


def prepare_metadata(source: Path, *, interpreter: Interpreter, indexes: IndexConfig,
                     limits: BuildLimits = BuildLimits(), log: Callable[[str], None] | None = None,
                     sandbox: str | None = None, workdir: Path | None = None,
                     hidden_paths: Sequence[str] = ()) -> BuiltMetadata:
    """Core metadata of ``source``: an sdist archive (.tar.gz, .tgz, .tar.bz2, .zip) or a source
    directory (local path package, VCS checkout). ``source`` is never modified (it is copied or
    extracted into a fresh temporary directory that is removed afterwards).

    Optional: ``sandbox`` "auto" | "bwrap" | "none" (default $THAMOS_BUILD_SANDBOX, else auto);
    ``workdir`` where the temporary directory is made (default: the system's); ``hidden_paths``
    more files or folders the backend must not read under bubblewrap (e.g. a server's data folder).
    """
    source = Path(source)
    started = time.monotonic()
    _check_source(source, limits)
    _check_interpreter(interpreter)
    mode = choose_sandbox(sandbox)
    secrets = {s for url in indexes.urls() for s in url_secrets(url)} | environment_secrets()
    redactor = Redactor(secrets)
    label = f"{interpreter.implementation} {interpreter.version}"
    if not interpreter.matched and interpreter.wanted:
        label += f" (no usable Python {interpreter.wanted} found)"
    _emit(log, f"building metadata of {source.name} with {label}, sandbox: {mode}")
    try:
        work = Path(tempfile.mkdtemp(prefix="sourcebuild-", dir=workdir)).resolve()
    except OSError as error:
        raise BuildFailed(f"cannot make the build's temporary folder: {error}", permanent=False,
                          stage="starting the build") from None
    try:
        (work / "home").mkdir()
        (work / "tmp").mkdir()
        answer = _run_sandbox(_request(source, work, interpreter, indexes, limits, mode, hidden_paths), work, limits)
    except BuildFailed as failure:
        answer = {"ok": False, "reason": failure.reason, "stage": failure.stage, "permanent": failure.permanent,
                  "output": failure.output}
    except OSError as error:  # the machine, not the package: no process, no disk space...
        answer = {"ok": False, "reason": f"starting the build failed: {error}", "stage": "starting the build",
                  "permanent": False, "output": ""}
    finally:
        remove_tree(work)
    elapsed = time.monotonic() - started
    if not answer.get("ok"):
        failure = _failure(answer, redactor, work)
        _emit(log, f"building metadata of {source.name} failed after {elapsed:.1f} s: {failure.reason}")
        raise failure
    metadata = redactor.data(base64.b64decode(answer["metadata"]))
    _emit(log, f"metadata of {source.name} took {elapsed:.1f} s via {answer['via']}")
    return BuiltMetadata(metadata=metadata, interpreter=interpreter, via=str(answer["via"]))


def _failure(answer: dict, redactor: Redactor, work: Path) -> BuildFailed:
    def clean(text: str) -> str:
        return redactor.text(str(text or "")).replace(str(work), "<build>")

    return BuildFailed(clean(answer.get("reason")) or "the build failed", permanent=bool(answer.get("permanent")),
                       stage=str(answer.get("stage") or ""), output=clean(answer.get("output")))

"""The sandbox process: one build from a JSON request on stdin to a JSON answer on stdout.

Started by :mod:`sourcebuild.prepare` in its own process group, in the build's temporary folder,
with an environment built from scratch. It limits itself first (the limits pass on to every
process it starts), then places the source, creates the build venv, installs the build
requirements and asks the backend for the metadata through pypa/build. What the steps print is
kept in memory (the tail, ``output_kb``); the caller reads only the answer and the stage lines.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import build
import pyproject_hooks

from sourcebuild.confine import apply_limits, bwrap_command, run_captured
from sourcebuild.installer import ENV_STAGE, Installer, checked_requirements, create_environment, step_failure
from sourcebuild.model import BuildFailed
from sourcebuild.redaction import Redactor, url_secrets
from sourcebuild.unpack import SourceError, place_source

STAGE_PREFIX = "sourcebuild-stage: "
MAX_METADATA = 32 * 1024 * 1024
_HOOK_STAGES = {
    "get_requires_for_build_wheel": "getting the build requirements (get_requires_for_build_wheel)",
    "prepare_metadata_for_build_wheel": "preparing metadata (prepare_metadata_for_build_wheel)",
    "build_wheel": "building the wheel (build_wheel)",
}
# A single file bigger than this is no legitimate part of a build.
_FILE_CEILING_FACTOR = 4


def announce(stage: str) -> None:
    """Tell the caller which step runs, so a time-out can name it."""
    sys.stderr.write(STAGE_PREFIX + stage + "\n")
    sys.stderr.flush()


class HookRunner:
    """Runs the backend's hook processes: clean environment, no index credentials, maybe bubblewrap."""

    def __init__(self, request: Mapping[str, Any], venv_python: str) -> None:
        self.request = request
        self.venv_python = venv_python
        self.keep_bytes = int(request["limits"]["output_kb"]) * 1024
        self.readable = [_base_prefix(venv_python)] if request["sandbox"] == "bwrap" else []
        self.last_hook = ""
        self.last_output = ""
        self.last_returncode: int | None = None

    def __call__(self, cmd: Sequence[str], cwd: str | None = None,
                 extra_environ: Mapping[str, str] | None = None) -> None:
        hook = cmd[2] if len(cmd) > 2 else "hook"
        self.last_hook = hook
        announce(_HOOK_STAGES.get(hook, hook))
        venv_bin = os.path.dirname(self.venv_python)
        # This process's environment is already the clean one: PATH, locale, HOME, TMPDIR, ...
        env = {**os.environ, **(extra_environ or {})}
        env["PATH"] = venv_bin + os.pathsep + env.get("PATH", os.defpath)
        env["VIRTUAL_ENV"] = os.path.dirname(venv_bin)
        command = list(cmd)
        if self.request["sandbox"] == "bwrap":
            command = bwrap_command(
                command, cwd=cwd or self.request["work"], writable=self.request["work"],
                readable=[*self.readable, os.path.dirname(cmd[1])], hidden=self.request["hidden"],
            )
        returncode, output = run_captured(command, env=env, cwd=cwd or self.request["work"],
                                          keep_bytes=self.keep_bytes)
        self.last_output, self.last_returncode = output, returncode
        if returncode != 0:
            raise subprocess.CalledProcessError(returncode, cmd, output=output)

    def failure(self, error: Exception) -> BuildFailed:
        stage = _HOOK_STAGES.get(self.last_hook, "running the build backend")
        inner = getattr(error, "exception", error)
        memory_mb = int(self.request["limits"]["memory_mb"])
        if isinstance(inner, pyproject_hooks.BackendUnavailable):
            text = f"{getattr(inner, 'traceback', '')}\n{inner}".strip()
            failure = step_failure("loading the build backend", text, returncode=None, memory_mb=memory_mb)
            return failure
        if isinstance(inner, subprocess.CalledProcessError):
            return step_failure(stage, self.last_output, returncode=self.last_returncode, memory_mb=memory_mb)
        return step_failure(stage, f"{self.last_output}\n{type(inner).__name__}: {inner}",
                            returncode=None, memory_mb=memory_mb)


def _base_prefix(python: str) -> str:
    """The installation a venv's interpreter comes from (it must stay readable under bubblewrap)."""
    completed = subprocess.run([python, "-I", "-c", "import sys; print(sys.base_prefix)"], capture_output=True,
                               text=True, timeout=60, stdin=subprocess.DEVNULL, env=dict(os.environ))
    return completed.stdout.strip() or os.path.dirname(os.path.dirname(os.path.realpath(python)))


def _builder(root: Path, runner: HookRunner) -> build.ProjectBuilder:
    announce("reading pyproject.toml")
    try:
        return build.ProjectBuilder(root, python_executable=runner.venv_python, runner=runner)
    except build.BuildException as error:
        raise BuildFailed(f"reading pyproject.toml failed: {error}", stage="reading pyproject.toml") from None


def _metadata(builder: build.ProjectBuilder, runner: HookRunner, installer: Installer, work: Path) -> dict:
    declared = checked_requirements(builder.build_system_requires)
    announce("installing the build requirements")
    installer.install(declared, str(work))
    try:
        more = [r for r in checked_requirements(builder.get_requires_for_build("wheel")) if r not in declared]
        announce("installing the build requirements")
        installer.install(more, str(work))
        output = work / "out"
        folder = Path(builder.metadata_path(output))
    except (build.BuildBackendException, build.BuildException) as error:
        raise runner.failure(error) from None
    via = "build_wheel" if any(output.glob("*.whl")) else "prepare_metadata_for_build_wheel"
    metadata_file = folder / "METADATA"
    if not metadata_file.is_file() or metadata_file.stat().st_size > MAX_METADATA:
        raise BuildFailed(f"the backend gave no usable METADATA (via {via})", stage=_HOOK_STAGES[via])
    return {"ok": True, "via": via, "metadata": base64.b64encode(metadata_file.read_bytes()).decode()}


def run(request: Mapping[str, Any]) -> dict:
    work = Path(request["work"])
    limits = request["limits"]
    keep_bytes = int(limits["output_kb"]) * 1024
    announce("unpacking the source")
    try:
        root = place_source(Path(request["source"]), work / "src", int(limits["max_source_mb"]))
    except SourceError as error:
        raise BuildFailed(f"unpacking the source failed: {error}", stage="unpacking the source") from None
    announce(ENV_STAGE)
    venv_python = create_environment(request["interpreter"]["path"], work / "env", env=os.environ,
                                     keep_bytes=keep_bytes, memory_mb=int(limits["memory_mb"]))
    installer = Installer(venv_python, request["interpreter"]["version"], indexes=request["indexes"],
                          proxies=request["proxies"], env=os.environ, keep_bytes=keep_bytes,
                          memory_mb=int(limits["memory_mb"]))
    runner = HookRunner(request, venv_python)
    return _metadata(_builder(root, runner), runner, installer, work)


def _redactor(request: Mapping[str, Any]) -> Redactor:
    indexes = request.get("indexes") or {}
    urls = [indexes.get("index_url") or "", *(indexes.get("extra_index_urls") or ()),
            *(request.get("proxies") or {}).values()]
    return Redactor(secret for url in urls for secret in url_secrets(str(url)))


def main() -> None:
    answer_stream = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever a library prints goes to stderr; stdout carries the answer alone
    request: dict = {}
    try:
        request = json.loads(sys.stdin.read())
        limits = request["limits"]
        file_mb = max(int(limits["max_source_mb"]), 256) * _FILE_CEILING_FACTOR
        apply_limits(int(limits["memory_mb"]), file_mb)
        answer = run(request)
    except BuildFailed as failure:
        redact = _redactor(request).text
        answer = {"ok": False, "reason": redact(failure.reason), "stage": failure.stage,
                  "permanent": failure.permanent, "output": redact(failure.output)}
    except MemoryError:
        answer = {"ok": False, "reason": "the build process ran out of memory", "stage": "", "permanent": True,
                  "output": ""}
    except Exception as error:  # noqa: BLE001 (the caller gets one line, never a traceback)
        reason = _redactor(request).text(f"sourcebuild failed unexpectedly: {type(error).__name__}: {error}")
        answer = {"ok": False, "reason": reason, "stage": "", "permanent": False, "output": ""}
    answer_stream.write(json.dumps(answer))
    answer_stream.close()


if __name__ == "__main__":
    main()

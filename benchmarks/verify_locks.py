"""Check that the adviser's locks install as they are, with the installers users run.

For each benchmark input the adviser runs once (``benchmarks/advise_once.py``, target: this
machine's Python and platform). The script then writes a project directory with the Pipfile the
lock was computed for, the Pipfile.lock and the requirements.txt rendered from it, and installs it
into fresh virtualenvs with:

* pip          ``pip install --require-hashes --no-deps -r requirements.txt``
* micropipenv  ``micropipenv install --deploy`` (checks the Pipfile hash against the lock)
* pipenv       ``pipenv install --deploy`` (when a pipenv executable is available)

Each environment then passes ``pip check`` and imports the top-level packages of the Pipfile.
Installers see the lock alone: the machine's pip configuration (config files, ``PIP_*`` index
and constraint variables) is switched off and the index comes from the lock's sources.

    python benchmarks/verify_locks.py [--only a-small] [--recommendation-type stable]
        [--installers pip,micropipenv,pipenv] [--pipenv PATH] [--work-dir DIR]

All installers share one pip cache directory under the work directory. It saves downloads only
where the index sends caching headers (pip's HTTP cache stores nothing otherwise; the index these
machines reach sends none, so every run downloads again). Inputs run one after the other.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name
from packaging.version import Version

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_INPUTS = REPO.parent / "shared" / "bench" / "inputs"
INSTALLERS = ("pip", "micropipenv", "pipenv")
# Pip settings from the environment that are harmless to keep (trust store, timeouts, noise).
KEPT_PIP_VARIABLES = {"PIP_CERT", "PIP_CLIENT_CERT", "PIP_DEFAULT_TIMEOUT", "PIP_DISABLE_PIP_VERSION_CHECK"}

sys.path.insert(0, str(REPO))

from stackfiles.toml import load_toml  # noqa: E402  (the repository is put on the path first)


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str = ""


@dataclass
class Outcome:
    input_name: str
    installer: str
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)

    @property
    def failure(self) -> str:
        bad = next((s for s in self.steps if not s.ok), None)
        return f"{bad.name}: {bad.detail}" if bad else ""


def isolated_env(pip_cache: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without pip configuration, sharing one pip cache."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not (key.startswith(("PIP_", "PIPENV_", "MICROPIPENV_")) and key not in KEPT_PIP_VARIABLES)
        and key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_CACHE_DIR"] = str(pip_cache)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra or {})
    return env


def run(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None, log: Path) -> Step:
    """Run a command with its output appended to ``log``; the step carries the output's tail on failure."""
    start = time.perf_counter()
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"\n$ {' '.join(cmd)}\n")
        handle.flush()
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT, text=True)
    elapsed = time.perf_counter() - start
    detail = ""
    if proc.returncode != 0:
        lines = [
            line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()
        ]
        detail = f"exit {proc.returncode}; " + " | ".join(lines[-4:])
    return Step(Path(cmd[0]).name, proc.returncode == 0, elapsed, detail)


def write_project(input_dir: Path, lock: dict, project_dir: Path) -> Step:
    """Pipfile + Pipfile.lock + requirements.txt; fails when the Pipfile does not match the lock's hash."""
    from stackfiles.atomic import write_file_atomically
    from stackfiles.pipfile import pipfile_hash, render_pipfile
    from stackfiles.requirements import render_requirements_txt

    start = time.perf_counter()
    pipfile = load_toml((input_dir / "Pipfile").read_text(encoding="utf-8"), "Pipfile")
    # The adviser returns the Pipfile with the sources it used (the default index when the input
    # names none, plus indexes added by index adjustment); the lock lists exactly those.
    pipfile["source"] = [dict(s) for s in lock["_meta"]["sources"]]
    ordered = {"source": pipfile.pop("source"), **pipfile}
    project_dir.mkdir(parents=True, exist_ok=True)
    write_file_atomically(project_dir / "Pipfile", render_pipfile(ordered, None))
    write_file_atomically(project_dir / "Pipfile.lock", json.dumps(lock, indent=4, sort_keys=True) + "\n")
    write_file_atomically(project_dir / "requirements.txt", render_requirements_txt(lock, dev=False))
    expected = lock["_meta"]["hash"]["sha256"]
    written = load_toml((project_dir / "Pipfile").read_text(encoding="utf-8"), "Pipfile")
    actual = pipfile_hash(written)
    ok = actual == expected
    detail = "" if ok else f"Pipfile hash {actual} differs from the lock's {expected}"
    return Step("project", ok, time.perf_counter() - start, detail)


def smoke_script(packages: list[str]) -> str:
    """Python run inside a venv: import every top-level module of the given distributions."""
    return f"""
import importlib, importlib.metadata as md, sys
wanted = {packages!r}
tops = {{}}
for module, dists in md.packages_distributions().items():
    for dist in dists:
        tops.setdefault(dist.lower().replace("_", "-"), set()).add(module)
failed = []
for name in wanted:
    modules = sorted(m for m in tops.get(name.lower().replace("_", "-"), ()) if m.isidentifier() and not m.startswith("_"))
    if not modules:
        failed.append(f"{{name}}: no importable top-level module found")
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:
            failed.append(f"{{name}}: import {{module}} failed: {{type(exc).__name__}}: {{exc}}")
        else:
            print("imported", module)
if failed:
    print("\\n".join(failed), file=sys.stderr)
    sys.exit(1)
"""


SEED_PACKAGES = {"pip", "setuptools", "wheel"}


def installed_versions(python: Path, env: dict[str, str]) -> dict[str, str] | None:
    proc = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"], env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        return None
    return {canonicalize_name(p["name"]): p["version"] for p in json.loads(proc.stdout)}


def compare_with_lock(python: Path, lock: dict, env: dict[str, str]) -> Step:
    """Every lock entry whose markers hold here is installed at its version, and nothing else is."""
    start = time.perf_counter()
    installed = installed_versions(python, env)
    if installed is None:
        return Step("lock match", False, time.perf_counter() - start, "pip list failed")
    problems = []
    expected = set()
    for name, entry in (lock.get("default") or {}).items():
        markers = entry.get("markers")
        if markers and not Marker(markers).evaluate():
            continue
        key = canonicalize_name(name)
        expected.add(key)
        version = entry["version"].lstrip("=")
        if key not in installed:
            problems.append(f"{name} {version} not installed")
        elif Version(installed[key]) != Version(version):
            problems.append(f"{name} is {installed[key]}, lock says {version}")
    unexpected = sorted(set(installed) - expected - SEED_PACKAGES)
    if unexpected:
        problems.append(f"installed but not in the lock: {', '.join(unexpected)}")
    return Step("lock match", not problems, time.perf_counter() - start, "; ".join(problems))


def check_environment(
    python: Path, lock: dict, packages: list[str], env: dict[str, str], log: Path
) -> list[Step]:
    match = compare_with_lock(python, lock, env)
    check = run([str(python), "-m", "pip", "check"], env=env, log=log)
    check.name = "pip check"
    script = log.parent / "import_smoke.py"
    script.write_text(smoke_script(packages), encoding="utf-8")
    smoke = run([str(python), str(script)], env=env, log=log)
    smoke.name = "import"
    return [match, check, smoke]


def fresh_venv(path: Path, env: dict[str, str], log: Path) -> Step:
    if path.exists():
        shutil.rmtree(path)
    step = run([sys.executable, "-m", "venv", str(path)], env=env, log=log)
    step.name = "venv"
    return step


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def install_with_pip(project: Path, lock: dict, packages: list[str], env: dict, work: Path) -> list[Step]:
    log = work / "pip.log"
    venv = work / "venv-pip"
    steps = [fresh_venv(venv, env, log)]
    if not steps[-1].ok:
        return steps
    index_url = lock["_meta"]["sources"][0]["url"]
    install = run(
        [
            str(venv_python(venv)),
            "-m",
            "pip",
            "install",
            "--require-hashes",
            "--no-deps",
            "--index-url",
            index_url,
            "-r",
            str(project / "requirements.txt"),
        ],
        env=env,
        log=log,
    )
    install.name = "install"
    steps.append(install)
    if install.ok:
        steps.extend(check_environment(venv_python(venv), lock, packages, env, log))
    return steps


def install_with_micropipenv(
    project: Path, lock: dict, packages: list[str], env: dict, work: Path
) -> list[Step]:
    log = work / "micropipenv.log"
    venv = work / "venv-micropipenv"
    steps = [fresh_venv(venv, env, log)]
    if not steps[-1].ok:
        return steps
    micropipenv = shutil.which("micropipenv", path=str(Path(sys.executable).parent)) or "micropipenv"
    install_env = dict(env, MICROPIPENV_PIP_BIN=str(venv / "bin" / "pip"), MICROPIPENV_NO_LOCKFILE_PRINT="1")
    install = run([micropipenv, "install", "--deploy"], cwd=project, env=install_env, log=log)
    install.name = "install"
    steps.append(install)
    if install.ok:
        steps.extend(check_environment(venv_python(venv), lock, packages, env, log))
    return steps


def install_with_pipenv(
    project: Path, lock: dict, packages: list[str], env: dict, work: Path, pipenv: str
) -> list[Step]:
    log = work / "pipenv.log"
    # pipenv keeps its virtualenv in the project directory: give it its own copy of the project.
    pipenv_project = work / "pipenv-project"
    if pipenv_project.exists():
        shutil.rmtree(pipenv_project)
    pipenv_project.mkdir(parents=True)
    for name in ("Pipfile", "Pipfile.lock"):
        shutil.copy2(project / name, pipenv_project / name)
    pipenv_env = dict(
        env,
        PIPENV_VENV_IN_PROJECT="1",
        PIPENV_IGNORE_VIRTUALENVS="1",
        PIPENV_YES="1",
        PIPENV_NOSPIN="1",
        PIPENV_CACHE_DIR=env["PIP_CACHE_DIR"],
    )
    host_python = str(
        Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    )
    install = run(
        [pipenv, "install", "--deploy", "--python", host_python], cwd=pipenv_project, env=pipenv_env, log=log
    )
    install.name = "install"
    steps = [install]
    if install.ok:
        steps.extend(check_environment(venv_python(pipenv_project / ".venv"), lock, packages, env, log))
    return steps


def find_pipenv(explicit: str | None, work_dir: Path) -> tuple[str | None, str]:
    """A pipenv executable: the given one, one on PATH, else one installed into a tool venv."""
    if explicit:
        return explicit, ""
    on_path = shutil.which("pipenv")
    if on_path:
        return on_path, ""
    tool_venv = work_dir / "tools" / "pipenv"
    executable = tool_venv / "bin" / "pipenv"
    if executable.exists():
        return str(executable), ""
    print("installing pipenv into a tool virtualenv ...", file=sys.stderr, flush=True)
    log = work_dir / "tools" / "pipenv-install.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    # The tool itself comes from wherever the machine's pip is configured to look.
    made = run([sys.executable, "-m", "venv", str(tool_venv)], log=log)
    if made.ok:
        made = run([str(tool_venv / "bin" / "python"), "-m", "pip", "install", "pipenv"], log=log)
    if not made.ok or not executable.exists():
        shutil.rmtree(tool_venv, ignore_errors=True)
        return None, f"pipenv could not be installed ({made.detail}); see {log}"
    return str(executable), ""


def verify_input(
    input_dir: Path, args: argparse.Namespace, installers: list[str], pipenv: str | None, pipenv_problem: str
) -> list[Outcome]:
    name = input_dir.name
    work = args.work_dir / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    project = work / "project"
    lock_path = work / "Pipfile.lock.json"
    env = isolated_env(args.work_dir / "pip-cache")
    advise_log = work / "advise.log"

    python_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    advise = run(
        [
            sys.executable,
            str(HERE / "advise_once.py"),
            "--pipfile",
            str(input_dir / "Pipfile"),
            "--out",
            str(lock_path),
            "--cache-dir",
            str(args.cache_dir),
            "--recommendation-type",
            args.recommendation_type,
            "--python-version",
            python_version,
            "--platform",
            sysconfig.get_platform(),
        ],
        log=advise_log,
    )
    advise.name = "advise"
    lock_outcome = Outcome(name, "adviser", [advise])
    if not advise.ok:
        return [lock_outcome]
    lock = json.loads(lock_path.read_text(encoding="utf-8"))
    lock_outcome.steps.append(write_project(input_dir, lock, project))
    outcomes = [lock_outcome]
    if not lock_outcome.ok:
        return outcomes

    pipfile = load_toml((input_dir / "Pipfile").read_text(encoding="utf-8"), "Pipfile")
    packages = list((pipfile.get("packages") or {}).keys())
    for installer in installers:
        print(f"[{name}] {installer} ...", file=sys.stderr, flush=True)
        outcome = Outcome(name, installer)
        if installer == "pip":
            outcome.steps = install_with_pip(project, lock, packages, env, work)
        elif installer == "micropipenv":
            outcome.steps = install_with_micropipenv(project, lock, packages, env, work)
        elif pipenv is None:
            outcome.steps = [Step("pipenv", False, 0.0, pipenv_problem or "no pipenv executable")]
        else:
            outcome.steps = install_with_pipenv(project, lock, packages, env, work, pipenv)
        outcomes.append(outcome)
        if not args.keep_venvs:
            for venv in (work / f"venv-{installer}", work / "pipenv-project" / ".venv"):
                shutil.rmtree(venv, ignore_errors=True)
    return outcomes


def print_table(outcomes: list[Outcome]) -> None:
    def fmt(value: float | None) -> str:
        return f"{value:8.1f}" if value is not None else f"{'-':>8}"

    print(
        f"{'input':<9} {'step':<12} {'result':<6} {'advise s':>8} {'venv s':>8} {'install s':>9} "
        f"{'check s':>8} {'import s':>8}  detail"
    )
    for outcome in outcomes:
        total = {s.name: s.seconds for s in outcome.steps}
        print(
            f"{outcome.input_name:<9} {outcome.installer:<12} {'ok' if outcome.ok else 'FAIL':<6} "
            f"{fmt(total.get('advise'))} {fmt(total.get('venv'))} {fmt(total.get('install')):>9} "
            f"{fmt(total.get('pip check'))} {fmt(total.get('import'))}  {outcome.failure}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inputs", type=Path, default=DEFAULT_INPUTS)
    parser.add_argument("--only", action="append", help="input name (repeatable)")
    parser.add_argument("--recommendation-type", default="stable")
    parser.add_argument(
        "--installers", default=",".join(INSTALLERS), help="comma-separated subset of pip,micropipenv,pipenv"
    )
    parser.add_argument(
        "--pipenv",
        help="pipenv executable (default: pipenv on PATH, else installed into WORK_DIR/tools/pipenv)",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "thamos-verify-locks",
        help="projects, logs and the shared pip cache (kept between runs)",
    )
    parser.add_argument("--cache-dir", type=Path, help="adviser cache (default: WORK_DIR/adviser-cache)")
    parser.add_argument(
        "--keep-venvs", action="store_true", help="leave the virtualenvs in place for inspection"
    )
    args = parser.parse_args(argv)

    installers = [i.strip() for i in args.installers.split(",") if i.strip()]
    unknown = sorted(set(installers) - set(INSTALLERS))
    if unknown:
        parser.error(f"unknown installer(s) {', '.join(unknown)}; choose from {', '.join(INSTALLERS)}")
    if not args.inputs.is_dir():
        parser.error(f"inputs directory {args.inputs} does not exist")
    inputs = sorted(p for p in args.inputs.iterdir() if (p / "Pipfile").is_file())
    if args.only:
        missing = sorted(set(args.only) - {p.name for p in inputs})
        if missing:
            parser.error(f"no input named {', '.join(missing)} in {args.inputs}")
        inputs = [p for p in inputs if p.name in args.only]
    args.work_dir = args.work_dir.resolve()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    args.cache_dir = (args.cache_dir or args.work_dir / "adviser-cache").resolve()
    pipenv, pipenv_problem = find_pipenv(args.pipenv, args.work_dir) if "pipenv" in installers else (None, "")

    outcomes: list[Outcome] = []
    for input_dir in inputs:
        print(f"[{input_dir.name}] advising ({args.recommendation_type}) ...", file=sys.stderr, flush=True)
        outcomes.extend(verify_input(input_dir, args, installers, pipenv, pipenv_problem))
    print(
        f"target: Python {sys.version.split()[0]} {sysconfig.get_platform()}; "
        f"recommendation type {args.recommendation_type}; logs in {args.work_dir}/<input>/"
    )
    print_table(outcomes)
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())

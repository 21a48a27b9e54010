"""`thamos advise` against `uv pip compile` on real-world Pipfiles, for their Python and for 3.11.

Inputs live in ``benchmarks/real_projects/``: twenty Pipfiles taken from public repositories (each
with an ORIGIN file) and, under ``five-kinds/``, five one-package Pipfiles whose releases are hard
for a resolver (sdist only, setup.py only, old pins). Every Pipfile names its index with the
placeholder ``${THAMOS_BENCH_INDEX_URL}``; it is filled at run time with that environment variable
when set, else with the index pip is configured to use (the adviser's own lookup: PIP_INDEX_URL,
pip.conf, pip's built-in default).

Each input runs for the Python of its ``[requires]`` (when it states one) and for 3.11, on x86_64
Linux with glibc 2.28 for both tools. One round is, in this order: thamos cold (a fresh HOME and
XDG directories, so its embedded server and caches start empty), uv cold (a fresh cache), thamos
warm (same caches, lock removed), uv warm. uv reads a requirements.in made from the Pipfile's
[packages] by the adviser's own Pipfile reader; thamos reads the Pipfile and a .thoth.yaml naming
the target. Both resolve with the latest versions (thamos --recommendation-type latest).

    python benchmarks/real_projects.py [--only NAME] [--set twenty|five-kinds|all]
        [--python 3.11] [--runs N] [--timeout 600] [--install] [--work-dir DIR]

A failure (or a timeout) is reported with the first line of the error and counted; the table ends
with success counts and median ratios. Pins are compared over the lock entries that apply to the
target (uv writes only those). ``--install`` installs each thamos lock with `thamos install` into
a fresh virtualenv of the target Python (found under pyenv) with the machine's pip configuration
switched off.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
INPUTS = HERE / "real_projects"
FIVE_KINDS = "five-kinds"
PLACEHOLDER = "${THAMOS_BENCH_INDEX_URL}"
OTHER_PYTHON = "3.11"
# The same machine for both tools: uv's x86_64-unknown-linux-gnu means manylinux_2_28, and thamos
# derives glibc 2.28 from RHEL 8.
UV_PLATFORM = "x86_64-unknown-linux-gnu"
THAMOS_RUNTIME = {"platform": "linux-x86_64", "operating_system": {"name": "rhel", "version": "8"}}
THAMOS_ADVISE = ["advise", "--short", "--recommendation-type", "latest"]

sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from compare import Run, canonical, pins_from_requirements, run_timed, uv_command  # noqa: E402
from thamos_home import free_port, stop_embedded, thamos_env, tool  # noqa: E402
from verify_locks import isolated_env  # noqa: E402

from thamos.redact import redact_secrets  # noqa: E402


@dataclass(frozen=True)
class Target:
    label: str  # "3.8 req" (the Pipfile's own Python) or "3.11"
    minor: str
    full: str  # the patch level thamos assumes, given to uv as well
    runtime_python: str | None  # .thoth.yaml python_version; None: the Pipfile's [requires]
    markers: dict


@dataclass(frozen=True)
class Case:
    name: str
    pipfile: Path
    target: Target


@dataclass
class Measured:
    seconds: float
    ok: bool
    message: str = ""


@dataclass
class ToolResult:
    cold: list[Measured] = field(default_factory=list)
    warm: list[Measured] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.cold) and all(m.ok for m in self.cold + self.warm)

    @property
    def message(self) -> str:
        return next((m.message for m in self.cold + self.warm if not m.ok), "")

    def median(self, kind: str) -> float | None:
        runs = [m.seconds for m in getattr(self, kind) if m.ok]
        return statistics.median(runs) if runs else None


@dataclass
class CaseResult:
    case: Case
    uv: ToolResult = field(default_factory=ToolResult)
    thamos: ToolResult = field(default_factory=ToolResult)
    differ: list[str] | None = None  # None unless both tools produced a lock
    left_out: int = 0  # lock entries whose markers exclude the target
    install: Measured | None = None


# ---------------------------------------------------------------- inputs


def bench_index_url() -> str:
    """THAMOS_BENCH_INDEX_URL when set, else the index pip would use (the adviser's lookup)."""
    explicit = os.environ.get("THAMOS_BENCH_INDEX_URL")
    if explicit:
        return explicit
    from adviser.index.sources import default_index_source

    return default_index_source().url


def filled_pipfile(path: Path, index_url: str) -> str:
    return path.read_text(encoding="utf-8").replace(PLACEHOLDER, index_url)


def targets_for(pipfile_text: str) -> list[Target]:
    """The Pipfile's own Python (when stated) and 3.11, as the adviser will evaluate them."""
    from adviser.environment import build_target
    from adviser.project import load_toml

    requires = load_toml(pipfile_text).get("requires") or {}
    stated = requires.get("python_full_version") or requires.get("python_version")
    targets = []
    if stated:
        own = build_target(dict(THAMOS_RUNTIME), str(stated))
        targets.append(
            Target(
                f"{own.python_version} req", own.python_version, own.python_full_version, None, own.markers
            )
        )
    if not targets or targets[0].minor != OTHER_PYTHON:
        other = build_target(dict(THAMOS_RUNTIME, python_version=OTHER_PYTHON))
        targets.append(
            Target(OTHER_PYTHON, OTHER_PYTHON, other.python_full_version, OTHER_PYTHON, other.markers)
        )
    return targets


def input_pipfiles(which: str) -> list[tuple[str, Path]]:
    twenty = sorted((p.parent.name, p) for p in INPUTS.glob("*/Pipfile"))
    five = sorted((f"{FIVE_KINDS}/{p.parent.name}", p) for p in (INPUTS / FIVE_KINDS).glob("*/Pipfile"))
    return {"twenty": twenty, FIVE_KINDS: five, "all": twenty + five}[which]


def select_cases(args: argparse.Namespace, index_url: str) -> list[Case]:
    pipfiles = input_pipfiles(args.set)
    if args.only:
        wanted = set(args.only)
        pipfiles = [(n, p) for n, p in pipfiles if n in wanted or n.split("/")[-1] in wanted]
        if not pipfiles:
            raise SystemExit(f"no input named {', '.join(sorted(wanted))} in {INPUTS} (set {args.set})")
    cases = []
    for name, path in pipfiles:
        try:
            targets = targets_for(filled_pipfile(path, index_url))
        except Exception as exc:  # a broken input is reported and left out, the others still run
            print(f"{name}: cannot read the Pipfile's target: {exc}", file=sys.stderr)
            continue
        cases += [Case(name, path, t) for t in targets if not args.python or t.minor == args.python]
    return cases


def requirements_in(pipfile_text: str, index_url: str) -> str:
    """[packages] of the Pipfile as requirement lines, read by the adviser's Pipfile parser."""
    from adviser.project import Source, parse_pipfile

    project = parse_pipfile(pipfile_text, Source("index", index_url))
    lines = []
    for req in project.packages:
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        marker = f" ; {req.marker}" if req.marker else ""
        lines.append(f"{req.name}{extras}{req.specifier}{marker}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- running


def first_error_line(output: str) -> str:
    """The line of a command's output that says what went wrong (secrets in URLs hidden)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    pattern = re.compile(r"error|fail|cannot|could not|not found|no solution|unsatisf|×", re.IGNORECASE)
    for number, line in enumerate(lines):
        if pattern.search(line):
            # uv and others print a heading, then the reason on the next line.
            following = lines[number + 1] if number + 1 < len(lines) else ""
            if line.endswith(":") or following.startswith(("cause:", "╰─▶")):
                line = f"{line.rstrip(':')}: {following.lstrip('╰─▶ ')}"
            return redact_secrets(line)[:240]
    return redact_secrets(lines[-1])[:240] if lines else "no output"


def measured(run: Run, output: Path, timeout: float) -> Measured:
    if run.timed_out:
        return Measured(run.seconds, False, f"timed out after {timeout:.0f} s")
    if run.returncode != 0:
        return Measured(run.seconds, False, f"exit {run.returncode}: {first_error_line(run.stderr)}")
    if not output.exists():
        return Measured(run.seconds, False, f"exit 0 but no {output.name} written")
    return Measured(run.seconds, True)


def progress(case: Case, what: str, result: Measured) -> None:
    verdict = "ok" if result.ok else f"FAIL ({result.message})"
    print(
        f"  {case.name} {case.target.label}: {what} {result.seconds:.2f} s {verdict}",
        file=sys.stderr,
        flush=True,
    )


def prepare_project(project: Path, pipfile_text: str, target: Target) -> None:
    project.mkdir(parents=True, exist_ok=True)
    (project / "Pipfile").write_text(pipfile_text, encoding="utf-8")
    environment = {"name": "bench", "python_version": target.runtime_python, **THAMOS_RUNTIME}
    config = {"requirements_format": "pipenv", "virtualenv": False, "runtime_environments": [environment]}
    (project / ".thoth.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def run_round(
    case: Case, root: Path, pipfile_text: str, req_in: Path | None, result: CaseResult, args
) -> None:
    """One round: thamos cold, uv cold, thamos warm, uv warm (warm only after a good cold run)."""
    project, uv_out = root / "project", root / "requirements.txt"
    prepare_project(project, pipfile_text, case.target)
    # The fresh HOME hides a per-user pip.conf: name the index so sdist builds use the same one.
    env = thamos_env(root, free_port(), base=dict(os.environ, PIP_INDEX_URL=args.index_url))
    lock = project / "Pipfile.lock"
    uv_cmd = None
    if req_in is not None:
        uv_cmd = uv_command(
            tool("uv"),
            req_in,
            uv_out,
            root / "uv-cache",
            python_version=case.target.full,
            platform=UV_PLATFORM,
            index_url=args.index_url,
        )

    def thamos_run(kind: str) -> bool:
        lock.unlink(missing_ok=True)
        (project / "Pipfile").write_text(pipfile_text, encoding="utf-8")  # advise may rewrite it
        run = run_timed([tool("thamos"), *THAMOS_ADVISE], env, timeout=args.timeout, cwd=project)
        outcome = measured(run, lock, args.timeout)
        getattr(result.thamos, kind).append(outcome)
        progress(case, f"thamos {kind}", outcome)
        return outcome.ok

    def uv_run(kind: str) -> bool:
        if uv_cmd is None:
            return False
        uv_out.unlink(missing_ok=True)
        outcome = measured(run_timed(uv_cmd, env, timeout=args.timeout), uv_out, args.timeout)
        getattr(result.uv, kind).append(outcome)
        progress(case, f"uv {kind}", outcome)
        return outcome.ok

    try:
        thamos_cold_ok = thamos_run("cold")
        uv_cold_ok = uv_run("cold")
        if thamos_cold_ok:
            thamos_run("warm")
        if uv_cold_ok:
            uv_run("warm")
    finally:
        stop_embedded(root)


def compare_pins(result: CaseResult, root: Path) -> None:
    """Pin differences between the two locks, over the lock entries that apply to the target."""
    import json

    from packaging.markers import Marker

    lock = json.loads((root / "project" / "Pipfile.lock").read_text(encoding="utf-8"))
    thamos_pins = {}
    for name, entry in (lock.get("default") or {}).items():
        if entry.get("markers") and not Marker(entry["markers"]).evaluate(result.case.target.markers):
            result.left_out += 1
            continue
        thamos_pins[canonical(name)] = str(entry.get("version", "")).lstrip("=")
    uv_pins = pins_from_requirements(root / "requirements.txt")
    result.differ = sorted(
        f"{n}: uv {uv_pins.get(n, '-')} / thamos {thamos_pins.get(n, '-')}"
        for n in set(uv_pins) | set(thamos_pins)
        if uv_pins.get(n) != thamos_pins.get(n)
    )


def target_python(minor: str) -> str | None:
    """An interpreter of that minor version: pyenv's (newest patch level) or one on PATH."""
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = sorted(glob.glob(f"{pyenv_root}/versions/{minor}.*/bin/python{minor}"), key=_patch_level)
    return found[-1] if found else shutil.which(f"python{minor}")


def _patch_level(path: str) -> int:
    match = re.search(r"/versions/\d+\.\d+\.(\d+)/", path)
    return int(match.group(1)) if match else -1


def install_lock(case: Case, root: Path, args) -> Measured:
    """`thamos install` of the advised lock into a fresh virtualenv of the target Python."""
    python = target_python(case.target.minor)
    if python is None:
        return Measured(0.0, False, f"no Python {case.target.minor} interpreter found")
    venv = root / "venv"
    home = thamos_env(root, free_port(), base={})
    env = isolated_env(root / "pip-cache", dict(home, VIRTUAL_ENV=str(venv)))
    made = run_timed([python, "-m", "venv", str(venv)], env, timeout=args.timeout)
    if made.returncode != 0 or made.timed_out:
        return Measured(made.seconds, False, f"venv: {first_error_line(made.stderr)}")
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    run = run_timed([tool("thamos"), "install"], env, timeout=args.timeout, cwd=root / "project")
    outcome = measured(run, root / "project" / "Pipfile.lock", args.timeout)
    progress(case, "thamos install", outcome)
    return outcome


def run_case(case: Case, args) -> CaseResult:
    result = CaseResult(case)
    case_dir = args.work_dir / case.name.replace("/", "--") / case.target.label.replace(" ", "-")
    shutil.rmtree(case_dir, ignore_errors=True)
    case_dir.mkdir(parents=True)
    pipfile_text = filled_pipfile(case.pipfile, args.index_url)
    req_in: Path | None = case_dir / "requirements.in"
    try:
        req_in.write_text(requirements_in(pipfile_text, args.index_url), encoding="utf-8")
    except Exception as exc:  # the conversion failing is a uv failure for this input
        req_in = None
        result.uv.cold.append(Measured(0.0, False, f"no requirements.in: {redact_secrets(str(exc))}"))
    root = case_dir
    for number in range(args.runs):
        root = case_dir / f"round-{number + 1}"
        run_round(case, root, pipfile_text, req_in, result, args)
    if result.uv.ok and result.thamos.ok:
        compare_pins(result, root)
    if args.install and result.thamos.ok:
        result.install = install_lock(case, root, args)
    return result


# ---------------------------------------------------------------- report


def _seconds(value: float | None) -> str:
    return f"{value:7.2f}" if value is not None else f"{'-':>7}"


def _ratio(thamos: float | None, uv: float | None) -> float | None:
    return thamos / uv if thamos is not None and uv else None


def print_table(results: list[CaseResult], install: bool) -> None:
    width = max([len(r.case.name) for r in results] + [5])
    print(
        f"{'input':<{width}} {'python':<8} | {'uv':<4} {'cold':>7} {'warm':>7} | {'thamos':<6} {'cold':>7} "
        f"{'warm':>7} | {'ratio w':>7} | pins" + (" | install" if install else "")
    )
    for r in results:
        ratio = _ratio(r.thamos.median("warm"), r.uv.median("warm"))
        pins = "-" if r.differ is None else ("same" if not r.differ else f"{len(r.differ)} differ")
        if r.left_out:
            pins += f" ({r.left_out} conditional left out)"
        row = (
            f"{r.case.name:<{width}} {r.case.target.label:<8} | {'ok' if r.uv.ok else 'FAIL':<4} "
            f"{_seconds(r.uv.median('cold'))} {_seconds(r.uv.median('warm'))} | "
            f"{'ok' if r.thamos.ok else 'FAIL':<6} {_seconds(r.thamos.median('cold'))} "
            f"{_seconds(r.thamos.median('warm'))} | {_seconds(ratio)} | {pins}"
        )
        if install:
            row += " | " + ("-" if r.install is None else "ok" if r.install.ok else "FAIL")
        print(row)
        for label, message in (("uv", r.uv.message), ("thamos", r.thamos.message)):
            if message:
                print(f"    {label}: {message}")
        if r.install is not None and not r.install.ok:
            print(f"    install: {r.install.message}")
        for line in r.differ or []:
            print(f"    {line}")


def summary_line(name: str, group: list[CaseResult], install: bool) -> str:
    both = [r for r in group if r.uv.ok and r.thamos.ok]
    line = (
        f"{name}: {len(group)} cases; uv ok {sum(r.uv.ok for r in group)}, "
        f"thamos ok {sum(r.thamos.ok for r in group)}, both ok {len(both)}"
    )
    for kind in ("warm", "cold"):
        ratios = [x for x in (_ratio(r.thamos.median(kind), r.uv.median(kind)) for r in both) if x]
        if ratios:
            line += f"; median ratio thamos/uv {kind} {statistics.median(ratios):.2f}"
    if both:
        line += f"; same pins {sum(1 for r in both if not r.differ)}/{len(both)}"
    if install:
        tried = [r for r in group if r.install is not None]
        line += f"; installs ok {sum(r.install.ok for r in tried)}/{len(tried)}"
    return line


def print_summary(results: list[CaseResult], install: bool) -> None:
    five = [r for r in results if r.case.name.startswith(FIVE_KINDS)]
    twenty = [r for r in results if not r.case.name.startswith(FIVE_KINDS)]
    print()
    for name, group in (("twenty", twenty), (FIVE_KINDS, five)):
        if group:
            print(summary_line(name, group, install))
    if twenty and five:
        print(summary_line("all", results, install))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", action="append", help="input name, e.g. kebechet or five-kinds/cssmin (repeatable)"
    )
    parser.add_argument(
        "--set", choices=["twenty", FIVE_KINDS, "all"], default="all", help="input set (default all)"
    )
    parser.add_argument("--python", help="run only this target Python, e.g. 3.11")
    parser.add_argument("--runs", type=int, default=1, help="rounds per input and Python (default 1)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per command (default 600)")
    parser.add_argument(
        "--install", action="store_true", help="install each thamos lock with `thamos install`"
    )
    parser.add_argument(
        "--work-dir", type=Path, help="locks, caches and venvs are kept here (default: a temporary directory)"
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.python and not re.fullmatch(r"3\.\d+", args.python):
        parser.error(f"--python {args.python!r}: give a version such as 3.11")
    try:
        args.index_url = bench_index_url()
    except RuntimeError as exc:
        raise SystemExit(f"no package index: {exc}") from None
    cases = select_cases(args, args.index_url)
    if not cases:
        raise SystemExit("nothing to run: no input has a target for the given --python")
    with tempfile.TemporaryDirectory(prefix="thamos-real-projects-") as tmp:
        args.work_dir = (args.work_dir or Path(tmp)).resolve()
        print(
            f"index {redact_secrets(args.index_url)}; {len(cases)} cases; work dir {args.work_dir}",
            file=sys.stderr,
        )
        results = []
        for number, case in enumerate(cases, start=1):
            print(
                f"[{number}/{len(cases)}] {case.name} for Python {case.target.full}",
                file=sys.stderr,
                flush=True,
            )
            results.append(run_case(case, args))
    print_table(results, args.install)
    print_summary(results, args.install)
    return 0


if __name__ == "__main__":
    sys.exit(main())

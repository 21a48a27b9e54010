"""End-to-end speed of `thamos advise` against `uv pip compile --generate-hashes`, and server memory.

Everything a user waits for counts: the `thamos` process start, talking to the server over HTTP,
the analysis in the server's worker and writing Pipfile.lock. Every figure is a ratio against uv on
the same input in the same run (the machine is shared and noisy); the two commands alternate run by
run (thamos then uv, then uv then thamos, ...), and each case prints the median and the spread
(min-max) of each tool, the ratio of the medians and PASS/MISS against the issue's target.

Cases, for each input of ../shared/bench/inputs (a Pipfile for thamos, requirements.in for uv):

* fresh  -- the first `thamos advise` on a new home (new HOME and XDG directories: it starts the
  embedded server, whose caches are empty; the server is stopped afterwards) against uv with a new
  empty cache directory. Target <= 1.5.
* warm   -- the embedded server running, its index pages within their TTL, the lock removed between
  runs and THAMOS_RESULT_TTL=0 (every run is a real resolution), against uv with a filled cache
  (uv refetches every page on each run). Target <= 0.5.
* force  -- the same freshness as uv: a team server (`thamos serve`, its own data and cache
  directories, --result-ttl 0, a free port) named as `host` in the project's .thoth.yaml;
  `thamos advise --force` refetches every page. Against uv warm. Target <= 1.0, and the pins of
  Pipfile.lock must equal those of uv's requirements.txt.
* memory -- one `thamos serve` (default workers, empty caches) gets N analyses of the inputs in
  turn (force=true, so none is answered from a cache) as concurrent HTTP POSTs, as the thamos client
  sends them; the summed PSS and RSS of the server and all its descendants are sampled every 50 ms
  from /proc until all have finished, each with a result. Target: peak summed PSS < 300 MB. PSS
  (proportional set size) counts a page shared by n processes as 1/n in each, so the sum is the
  memory the processes take together; summed RSS counts the forkserver's pages, which the workers
  forked from it share, once in every one of them. Both are printed.

One untimed run of each tool fills the caches before the warm and force pairs. Both tools resolve
for the same target: CPython 3.11.14 on x86_64 Linux with glibc 2.28 (uv: --python-version 3.11.14
--python-platform x86_64-manylinux_2_28; thamos: a .thoth.yaml whose runtime environment states
python_version 3.11.14 and RHEL 8, from which the adviser derives glibc 2.28). Both use the index
of the machine's configuration (uv its default, thamos pip's).

Before timing, the project's own packages are byte-compiled (`python -m compileall -q`): this
machine sets PYTHONDONTWRITEBYTECODE=1 and the project is installed editable, so without it every
thamos process (and every server) would compile ~100 modules from source, which a
`pip install thamos` does once at install time.

    python benchmarks/embedded_advise.py [--inputs DIR] [--only a-small] [--pairs N]
        [--cases fresh,warm,force,memory] [--analyses 50]
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import (  # noqa: E402
    DEFAULT_INPUTS,
    PYTHON_FULL_VERSION,
    UV_PLATFORM,
    Run,
    pins_from_lock,
    pins_from_requirements,
    run_timed,
    uv_command,
)
from thamos_home import (  # noqa: E402
    free_port,
    process_tree,
    pss_bytes,
    rss_bytes,
    stop_embedded,
    thamos_env,
    tool,
    wait_gone,
)

PACKAGES = ("thamos", "userapi", "adviser", "stackfiles", "sourcebuild", "swagger_client")
CASES = ("fresh", "warm", "force", "memory")
TARGETS = {"fresh": 1.5, "warm": 0.5, "force": 1.0}
MEMORY_TARGET_MB = 300.0
DEFAULT_PAIRS = {"fresh": 3, "warm": 5, "force": 5}
ADVISE = ["advise", "--short", "--recommendation-type", "latest"]
# thamos's side of the common target (see the docstring): RHEL 8 means glibc 2.28 to the adviser.
RUNTIME_ENVIRONMENT = {
    "name": "bench",
    "python_version": PYTHON_FULL_VERSION,
    "platform": "linux-x86_64",
    "operating_system": {"name": "rhel", "version": "8"},
}
COMMAND_TIMEOUT = 600.0


@dataclass
class CaseResult:
    thamos: list[float]
    uv: list[float]
    differ: list[str] | None = None  # pin differences of the last pair; None: not compared

    @property
    def ratio(self) -> float:
        return statistics.median(self.thamos) / statistics.median(self.uv)


@dataclass
class Bench:
    """Directories and servers shared by the cases of one run; ``close`` stops every server."""

    tmp: Path
    uv_cache: Path  # the warm uv cache, shared by the warm and force cases
    uv_warmed: set[str] = field(default_factory=set)
    warm_port: int = field(default_factory=free_port)
    team: TeamServer | None = None
    servers: list[TeamServer] = field(default_factory=list)

    @property
    def warm_home(self) -> Path:
        return self.tmp / "warm-home"

    def team_server(self) -> TeamServer:
        if self.team is None:
            self.team = self.start_server("force-server")
        return self.team

    def start_server(self, name: str) -> TeamServer:
        server = TeamServer(self.tmp / name)
        self.servers.append(server)
        return server.start()

    def close(self) -> None:
        stop_embedded(self.warm_home)
        for server in self.servers:
            server.stop()


# ---------------------------------------------------------------- commands


def fail(what: str, run: Run) -> None:
    reason = f"timed out after {run.seconds:.0f} s" if run.timed_out else f"exit {run.returncode}"
    raise SystemExit(f"{what} failed ({reason}); the end of its output:\n{run.stderr[-1500:]}")


def make_project(directory: Path, source: Path, host: str | None = None) -> Path:
    """A project directory with the input's Pipfile and a .thoth.yaml naming the common target."""
    directory.mkdir(parents=True)
    shutil.copy(source / "Pipfile", directory / "Pipfile")
    config = {
        **({"host": host} if host else {}),
        "requirements_format": "pipenv",
        "virtualenv": False,
        "runtime_environments": [RUNTIME_ENVIRONMENT],
    }
    # JSON is YAML: no need for a YAML writer.
    (directory / ".thoth.yaml").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return directory


def thamos_advise(project: Path, source: Path, env: dict[str, str], *extra: str) -> Run:
    lock = project / "Pipfile.lock"
    lock.unlink(missing_ok=True)
    shutil.copy(source / "Pipfile", project / "Pipfile")  # advise may rewrite it
    run = run_timed([tool("thamos"), *ADVISE, *extra], env, cwd=project, timeout=COMMAND_TIMEOUT)
    if run.returncode != 0 or run.timed_out or not lock.exists():
        fail(f"{' '.join(['thamos advise', *extra])} on {source.name}", run)
    return run


def uv_compile(source: Path, out: Path, cache: Path) -> Run:
    out.unlink(missing_ok=True)
    run = run_timed(uv_command(tool("uv"), source / "requirements.in", out, cache), timeout=COMMAND_TIMEOUT)
    if run.returncode != 0 or run.timed_out or not out.exists():
        fail(f"uv pip compile on {source.name}", run)
    return run


def alternate(pairs: int, thamos_run, uv_run) -> CaseResult:
    """``pairs`` runs of each (functions returning seconds): thamos first, then uv first, ..."""
    result = CaseResult([], [])
    for number in range(pairs):
        order = [(thamos_run, result.thamos), (uv_run, result.uv)]
        for run, times in order if number % 2 == 0 else order[::-1]:
            times.append(run())
    return result


def pin_differences(lock: Path, requirements: Path) -> list[str]:
    ours, theirs = pins_from_lock(lock), pins_from_requirements(requirements)
    return sorted(
        f"{name}: uv {theirs.get(name, '-')} / thamos {ours.get(name, '-')}"
        for name in set(ours) | set(theirs)
        if ours.get(name) != theirs.get(name)
    )


# ---------------------------------------------------------------- the timed cases


def fresh_case(bench: Bench, source: Path, pairs: int) -> CaseResult:
    """thamos on a brand-new home (it starts the embedded server) vs uv with an empty cache."""
    lock, out = bench.tmp / f"{source.name}-fresh.lock", bench.tmp / f"{source.name}-fresh.txt"

    def thamos_run() -> float:
        root = Path(tempfile.mkdtemp(prefix="fresh-thamos-", dir=bench.tmp))
        try:
            project = make_project(root / "project", source)
            run = thamos_advise(project, source, thamos_env(root, free_port()))
            shutil.copy(project / "Pipfile.lock", lock)
            return run.seconds
        finally:
            stop_embedded(root)  # and waits for it to exit
            shutil.rmtree(root, ignore_errors=True)

    def uv_run() -> float:
        cache = Path(tempfile.mkdtemp(prefix="fresh-uv-", dir=bench.tmp))
        try:
            return uv_compile(source, out, cache).seconds
        finally:
            shutil.rmtree(cache, ignore_errors=True)

    result = alternate(pairs, thamos_run, uv_run)
    result.differ = pin_differences(lock, out)
    return result


def warm_uv(bench: Bench, source: Path) -> Path:
    """uv's output file for the input, after one untimed run that fills its cache."""
    out = bench.tmp / f"{source.name}-uv.txt"
    if source.name not in bench.uv_warmed:
        uv_compile(source, out, bench.uv_cache)
        bench.uv_warmed.add(source.name)
    return out


def warm_case(bench: Bench, source: Path, pairs: int) -> CaseResult:
    """The embedded server running with filled caches vs uv with a filled cache."""
    env = thamos_env(bench.warm_home, bench.warm_port)
    project = make_project(bench.warm_home / "projects" / source.name, source)
    thamos_advise(project, source, env)  # untimed: starts the server on first use, fills its caches
    out = warm_uv(bench, source)
    result = alternate(
        pairs,
        lambda: thamos_advise(project, source, env).seconds,
        lambda: uv_compile(source, out, bench.uv_cache).seconds,
    )
    result.differ = pin_differences(project / "Pipfile.lock", out)
    return result


def force_case(bench: Bench, source: Path, pairs: int) -> CaseResult:
    """`thamos advise --force` against a `thamos serve` (every page refetched) vs uv warm."""
    server = bench.team_server()
    client = bench.tmp / "force-client"
    # The embedded port is a free one: only the host of .thoth.yaml leads to a server.
    env = thamos_env(client, free_port())
    project = make_project(client / "projects" / source.name, source, host=server.url)
    first = thamos_advise(project, source, env, "--force")  # untimed: fills the server's caches
    if f"{server.url}/api/v1" not in first.stderr:
        raise SystemExit(f"thamos advise --force did not talk to {server.url}; its output:\n{first.stderr}")
    out = warm_uv(bench, source)
    result = alternate(
        pairs,
        lambda: thamos_advise(project, source, env, "--force").seconds,
        lambda: uv_compile(source, out, bench.uv_cache).seconds,
    )
    if (client / "data" / "thamos" / "embedded-server.pid").exists():
        raise SystemExit("the client started an embedded server instead of using the team server")
    result.differ = pin_differences(project / "Pipfile.lock", out)
    return result


# ---------------------------------------------------------------- servers and memory


def http_json(method: str, url: str, body: Any = None, timeout: float = 60.0) -> tuple[int, Any]:
    """One request without any proxy (http.client): (status, decoded JSON or None)."""
    host_port, path = url.removeprefix("http://").split("/", 1)
    host, port = host_port.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json", **({"Content-Type": "application/json"} if payload else {})}
        connection.request(method, "/" + path, body=payload, headers=headers)
        response = connection.getresponse()
        data = response.read()
        try:
            return response.status, json.loads(data) if data else None
        except ValueError:
            return response.status, data.decode(errors="replace")
    finally:
        connection.close()


@dataclass
class TeamServer:
    """A `thamos serve` with its own data and cache directories under ``root``, reusing no results."""

    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TeamServer:
        self.root.mkdir(parents=True)
        command = [tool("thamos"), "serve", "--port", str(self.port), "--result-ttl", "0",
                   "--data-dir", str(self.root / "data"), "--cache-dir", str(self.root / "cache")]  # fmt: skip
        with open(self.root / "serve.log", "wb") as log:
            self.process = subprocess.Popen(command, env=thamos_env(self.root, free_port()), stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 90
        while not self.ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"thamos serve did not become ready; its log ends:\n{self.log_tail()}")
            time.sleep(0.1)
        return self

    def ready(self) -> bool:
        try:
            return http_json("GET", f"{self.url}/readiness", timeout=2)[0] == 200
        except OSError:
            return False

    def log_tail(self) -> str:
        return (self.root / "serve.log").read_text(errors="replace")[-1500:]

    def stop(self) -> None:
        """SIGTERM, then wait for the server and the processes it started (killed after 30 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        family = process_tree(self.process.pid)
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        wait_gone(family, 10)


class RssSampler(threading.Thread):
    """Peaks of the summed RSS and PSS of a process and all its descendants, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_bytes, self.peak_pss, self.samples = pid, 0, 0, 0
        self.at_peak: list[tuple[str, int]] = []  # (command, RSS bytes) of each process at the peak
        self.at_pss_peak: list[tuple[str, int]] = []  # (command, PSS bytes) at the peak of summed PSS
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            tree = process_tree(self.pid)
            sizes = [(pid, rss_bytes(pid)) for pid in tree]
            self.samples += 1
            if sum(size for _, size in sizes) > self.peak_bytes:
                self.peak_bytes = sum(size for _, size in sizes)
                self.at_peak = [(command_name(pid), size) for pid, size in sizes if size]
            # Forked workers share pages with their parent, which RSS counts in each of them.
            shares = [(pid, pss_bytes(pid)) for pid in tree]
            if sum(size for _, size in shares) > self.peak_pss:
                self.peak_pss = sum(size for _, size in shares)
                self.at_pss_peak = [(command_name(pid), size) for pid, size in shares if size]
            self.done.wait(0.05)

    def breakdown(self, sizes: list[tuple[str, int]]) -> str:
        """The processes at a peak: what each runs and its size."""
        return ", ".join(f"{name} {size / 2**20:.0f}" for name, size in sizes)


def command_name(pid: int) -> str:
    """A short name of what a process runs: `thamos serve`, `pool worker`, `forkserver`, ..."""
    text = cmdline(pid)
    if "multiprocessing.forkserver" in text:
        # Workers forked by the forkserver keep its command line: tell them apart by their parent.
        return "pool worker" if "multiprocessing.forkserver" in cmdline(parent(pid)) else "forkserver"
    if "multiprocessing.spawn" in text:
        return "pool worker"
    if "multiprocessing.resource_tracker" in text:
        return "resource tracker"
    words = [Path(word).name for word in text.split("\0") if word and not word.startswith("-")]
    if words and words[0].startswith("python") and len(words) > 1:
        words = words[1:]  # a script run by the interpreter: name the script
    return " ".join(words[:2]) or f"pid {pid}"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def submit(server: TeamServer, source: Path) -> str:
    """POST the request the thamos client sends for the project, with force=true."""
    body = {
        "application_stack": {
            "requirements": (source / "Pipfile").read_text(),
            "requirements_format": "pipenv",
        },
        "runtime_environment": RUNTIME_ENVIRONMENT,
    }
    url = f"{server.url}/api/v1/advise/python?recommendation_type=latest&force=true"
    status, answer = http_json("POST", url, body)
    if status != 202:
        raise SystemExit(f"POST /advise/python answered {status}: {answer}")
    return answer["analysis_id"]


def wait_all(server: TeamServer, ids: list[str], timeout: float = 1200.0) -> list[str]:
    """Poll every analysis until it is finished; the error messages of those that failed."""
    pending, errors = list(ids), []
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(pending)} analyses not finished after {timeout:.0f} s")
        for analysis_id in list(pending):
            status, document = http_json("GET", f"{server.url}/api/v1/advise/python/{analysis_id}")
            if status == 202:
                continue
            pending.remove(analysis_id)
            result = (document or {}).get("result") if status == 200 else None
            if not result or result.get("error") or not result.get("report"):
                message = (result or {}).get("error_msg") or f"status {status}: {str(document)[:200]}"
                errors.append(f"{analysis_id}: {message}")
        time.sleep(0.1)
    return errors


def memory_case(bench: Bench, sources: list[Path], count: int) -> int:
    """The memory case (see the docstring); the number of analyses that ended with an error."""
    server = bench.start_server("memory-server")
    sampler = RssSampler(server.process.pid)
    sampler.start()
    begun = time.monotonic()
    with ThreadPoolExecutor(max_workers=count) as pool:
        ids = list(pool.map(lambda number: submit(server, sources[number % len(sources)]), range(count)))
    errors = wait_all(server, ids)
    seconds = time.monotonic() - begun
    sampler.done.set()
    sampler.join()
    server.stop()
    report_memory(sampler, [source.name for source in sources], count, seconds, errors)
    return len(errors)


def report_memory(
    sampler: RssSampler, names: list[str], count: int, seconds: float, errors: list[str]
) -> None:
    peak, pss = sampler.peak_bytes / 2**20, sampler.peak_pss / 2**20
    verdict = "PASS" if pss < MEMORY_TARGET_MB and not errors else "MISS"
    print(f"memory: {count} analyses ({', '.join(names)} in turn, force=true) on one thamos serve "
          f"(default workers, empty caches): peak {pss:.0f} MB summed PSS of the server and its descendants "
          f"(summed RSS {peak:.0f} MB; {sampler.samples} samples); all finished in {seconds:.1f} s, "
          f"{count - len(errors)} results, {len(errors)} errors; target < {MEMORY_TARGET_MB:.0f} MB {verdict}\n"
          f"  at the RSS peak, MB of RSS: {sampler.breakdown(sampler.at_peak)}\n"
          f"  at the PSS peak, MB of PSS: {sampler.breakdown(sampler.at_pss_peak)}", flush=True)  # fmt: skip
    for line in errors:
        print(f"  error: {line}")


# ---------------------------------------------------------------- report and main


def spread(times: list[float]) -> str:
    return f"{statistics.median(times):6.2f} s ({min(times):.2f}-{max(times):.2f})"


def verdict(case: str, result: CaseResult) -> str:
    return "PASS" if result.ratio <= TARGETS[case] else "MISS"


def report_case(name: str, case: str, result: CaseResult) -> None:
    print(f"{name:<8} {case:<6} thamos {spread(result.thamos)}  uv {spread(result.uv)}  "
          f"ratio {result.ratio:5.2f}  target <= {TARGETS[case]}  {verdict(case, result)}  "
          f"pins {pins_text(result)}", flush=True)  # fmt: skip
    for line in result.differ or []:
        print(f"{'':17}{line}")


def pins_text(result: CaseResult | None) -> str:
    if result is None or result.differ is None:
        return "-"
    return "same" if not result.differ else f"{len(result.differ)} differ"


def summary(results: dict[str, dict[str, CaseResult]]) -> None:
    timed = [case for case in TARGETS if any(case in cases for cases in results.values())]
    if not timed:
        return
    targets = ", ".join(f"{case} <= {TARGETS[case]}" for case in timed)
    print(f"\nsummary: ratio of medians thamos/uv (targets: {targets}); pins of the force case "
          "(else warm, else fresh)")  # fmt: skip
    print(f"{'input':<8} " + " ".join(f"{case:>11}" for case in timed) + "  pins")
    for name, cases in results.items():
        cells = [
            f"{cases[c].ratio:6.2f} {verdict(c, cases[c])}" if c in cases else f"{'-':>11}" for c in timed
        ]
        pinned = next((cases[c] for c in ("force", "warm", "fresh") if c in cases), None)
        print(f"{name:<8} " + " ".join(cells) + f"  {pins_text(pinned)}")


def byte_compile() -> None:
    """Compile the project's packages as `pip install` would (see the docstring)."""
    folders = [spec.submodule_search_locations[0] for spec in map(importlib.util.find_spec, PACKAGES)]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *folders], check=True)
    print(f"byte-compiled {', '.join(PACKAGES)} with compileall: this machine sets PYTHONDONTWRITEBYTECODE=1 "
          "and the project is installed editable, so each thamos process would otherwise compile its modules "
          "from source (a pip install compiles them at install time)", flush=True)  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inputs", type=Path, default=DEFAULT_INPUTS)
    parser.add_argument(
        "--only", action="append", help="input name(s), comma-separated or repeated (default: all)"
    )
    parser.add_argument(
        "--cases", default=",".join(CASES), help="comma-separated subset of " + ",".join(CASES)
    )
    parser.add_argument(
        "--pairs", type=int, help="pairs of runs per case (default: 3 fresh, 5 warm and force)"
    )
    parser.add_argument("--analyses", type=int, default=50, help="analyses of the memory case")
    args = parser.parse_args()
    args.cases = [case.strip() for case in args.cases.split(",") if case.strip()]
    unknown = set(args.cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s) {', '.join(sorted(unknown))}; choose from {', '.join(CASES)}")
    only = {name.strip() for value in args.only or [] for name in value.split(",") if name.strip()}
    args.sources = sorted(p for p in args.inputs.iterdir() if p.is_dir() and (not only or p.name in only))
    if not args.sources:
        parser.error(f"no input selected in {args.inputs}")
    return args


def main() -> int:
    args = parse_args()
    byte_compile()
    print(f"target: CPython {PYTHON_FULL_VERSION} x86_64 Linux glibc 2.28 (uv --python-platform {UV_PLATFORM}; "
          f"thamos .thoth.yaml: rhel 8, linux-x86_64); {os.cpu_count()} CPU cores, load average "
          f"{os.getloadavg()[0]:.2f}\n", flush=True)  # fmt: skip
    results: dict[str, dict[str, CaseResult]] = {}
    failed_analyses = 0
    runners = {"fresh": fresh_case, "warm": warm_case, "force": force_case}
    with tempfile.TemporaryDirectory(prefix="thamos-e2e-bench-") as tmp:
        bench = Bench(Path(tmp), Path(tmp) / "uv-cache")
        try:
            for source in args.sources:
                for case in (case for case in runners if case in args.cases):
                    result = runners[case](bench, source, args.pairs or DEFAULT_PAIRS[case])
                    results.setdefault(source.name, {})[case] = result
                    report_case(source.name, case, result)
            if "memory" in args.cases:
                failed_analyses = memory_case(bench, args.sources, args.analyses)
        finally:
            bench.close()
    summary(results)
    return 1 if failed_analyses else 0


if __name__ == "__main__":
    sys.exit(main())

"""Throughput of the team server (PostgreSQL, procrastinate workers) beside the embedded server.

100 analyses of mixed small projects (several package sets of the local sample index, each
with a runtime environment of its own, so the result cache answers none) are submitted at once
over HTTP; the run ends when all are finished. Reported per setup: analyses per minute, p50/p95
latency (submit to finished, polled every 0.1 s) and peak memory (VmHWM) of each process kind.

Setups: the embedded server (SQLite, in-process pool of --workers 2); one API process with 1, 2
and 4 `thamos worker` processes (each --concurrency 1) sharing a private PostgreSQL cluster
started from the machine's PostgreSQL binaries. Everything runs on 127.0.0.1.

    python benchmarks/scale_out.py [--analyses 100] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.index_server import SAMPLE_DISTS, build_index  # noqa: E402
from tests.support.postgres import create_database, start_cluster  # noqa: E402
from tests.userapi.conftest import advise_body, free_port, request, server_environment  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from thamos_home import process_tree  # noqa: E402

PACKAGE_SETS = [
    {"webapp-framework": "*"},
    {"templating": "*", "signals": "*"},
    {"legacy-tool": "*"},
    {"http-client": "*", "markup-escape": "*"},
    {"webapp-framework": "<2", "translations": "*"},
]


def peak_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip


def wait_until(check, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready within {timeout} s")


def run_load(api_url: str, index_url: str, count: int, tag: str) -> tuple[float, list[float]]:
    """Submit `count` analyses at once; (seconds until all finished, latencies)."""

    def one(number: int) -> float:
        body = advise_body(index_url, PACKAGE_SETS[number % len(PACKAGE_SETS)])
        body["runtime_environment"]["name"] = f"{tag}-{number}"
        begun = time.monotonic()
        status, _, answer = request("POST", api_url + "/advise/python", body, timeout=120)
        assert status == 202, answer
        while True:
            status, _, document = request("GET", f"{api_url}/advise/python/{answer['analysis_id']}", timeout=120)
            if status == 200:
                assert document["result"]["error"] is False, document["result"]["error_msg"]
                return time.monotonic() - begun
            time.sleep(0.1)

    begun = time.monotonic()
    with ThreadPoolExecutor(max_workers=min(count, 32)) as pool:
        latencies = list(pool.map(one, range(count)))
    return time.monotonic() - begun, latencies


def report(name: str, seconds: float, latencies: list[float], memory: dict[str, float]) -> None:
    ordered = sorted(latencies)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    memory_text = ", ".join(f"{kind} {mb:.0f} MB" for kind, mb in memory.items())
    print(f"{name:<28} {len(latencies) / seconds * 60:7.0f}/min  p50 {statistics.median(ordered):6.2f} s"
          f"  p95 {p95:6.2f} s   peak: {memory_text}", flush=True)  # fmt: skip


def memory_of(processes: dict[str, list[subprocess.Popen]]) -> dict[str, float]:
    """Peak memory of the largest process of each kind, and of their analysis child processes."""
    peaks: dict[str, float] = {}
    for kind, started in processes.items():
        for process in started:
            family = process_tree(process.pid)
            peaks[kind] = max(peaks.get(kind, 0.0), peak_mb(process.pid))
            for child in family[1:]:
                peaks[f"{kind} child"] = max(peaks.get(f"{kind} child", 0.0), peak_mb(child))
    return peaks


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def embedded(root: Path, index_url: str, count: int) -> None:
    port = free_port()
    env = server_environment(root / "embedded-data", root / "embedded-cache", index_url)
    server = start([sys.executable, "-m", "userapi", "--port", str(port), "--workers", "2",
                    "--default-index", f"main={index_url}"], env, root / "embedded.log")  # fmt: skip
    api = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _ready(api), "the embedded server")
        seconds, latencies = run_load(api + "/api/v1", index_url, count, "embedded")
        report("embedded (SQLite, 2 workers)", seconds, latencies, memory_of({"server": [server]}))
    finally:
        stop([server])


def team(root: Path, cluster, index_url: str, count: int, workers: int) -> None:
    url = create_database(cluster.admin_url)
    port = free_port()
    env = server_environment(root / f"team{workers}-data", root / f"team{workers}-cache", index_url)
    api = start([sys.executable, "-m", "userapi", "--port", str(port), "--database", url,
                 "--default-index", f"main={index_url}"], env, root / f"api{workers}.log")  # fmt: skip
    started = []
    for number in range(workers):
        worker_env = server_environment(root / "unused", root / f"team{workers}-cache{number}", index_url)
        started.append(start([sys.executable, "-m", "thamos", "worker", "--database", url, "--concurrency", "1",
                              "--default-index", f"main={index_url}"], worker_env,
                             root / f"worker{workers}-{number}.log"))  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _ready(base), "the API process")
        for number in range(workers):
            log = root / f"worker{workers}-{number}.log"
            wait_until(lambda log=log: "worker ready" in log.read_text(errors="replace"), f"worker {number}")
        seconds, latencies = run_load(base + "/api/v1", index_url, count, f"team{workers}")
        report(f"PostgreSQL, {workers} worker(s)", seconds, latencies, memory_of({"api": [api], "worker": started}))
    finally:
        stop([*started, api])


def _ready(base: str) -> bool:
    try:
        return request("GET", base + "/readiness", timeout=2)[0] == 200
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--analyses", type=int, default=100)
    parser.add_argument("--workers", default="1,2,4", help="worker process counts to try, comma-separated")
    args = parser.parse_args()
    print(f"{args.analyses} analyses per setup on {os.cpu_count()} CPU cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="thamos-scale-") as tmp:
        root = Path(tmp)
        index = build_index(SAMPLE_DISTS, name="sample", root=root / "index")
        cluster = start_cluster()
        try:
            embedded(root, index.url, args.analyses)
            for workers in (int(value) for value in args.workers.split(",")):
                team(root, cluster, index.url, args.analyses, workers)
        finally:
            cluster.stop("immediate")
            index.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

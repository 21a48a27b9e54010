"""Load driver: N advise requests posted at once to a fresh server, then polled to their end.

Used by test_load.py and runnable by hand to measure how many concurrent requests a server holds:

    python -m tests.userapi.load --concurrency 200 --workers 2

It starts the sample index and a server of its own (nothing reaches the network) and prints
how many requests were accepted, how many analyses finished without error, and the wall times.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.userapi.conftest import ServerProcess, advise_body, free_port, request, server_environment


@dataclass
class LoadResult:
    posted: int
    accepted: int
    finished_ok: int
    finished_error: int
    errors: list[str]
    post_seconds: float
    total_seconds: float


def run_load(api_url: str, index_url: str, concurrency: int, timeout: float = 300.0) -> LoadResult:
    body = advise_body(index_url)
    errors: list[str] = []

    def post(_number: int) -> str | None:
        try:
            status, _, answer = request("POST", api_url + "/advise/python?force=true", body, timeout=60)
        except OSError as exc:
            errors.append(f"POST failed: {exc}")
            return None
        if status != 202 or not answer.get("analysis_id"):
            errors.append(f"POST answered {status}: {answer}")
            return None
        return answer["analysis_id"]

    start = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        ids = [analysis_id for analysis_id in pool.map(post, range(concurrency)) if analysis_id]
    post_seconds = time.monotonic() - start
    ok = failed = 0
    deadline = time.monotonic() + timeout
    remaining = list(ids)
    while remaining and time.monotonic() < deadline:
        still = []
        for analysis_id in remaining:
            status, _, document = request("GET", f"{api_url}/advise/python/{analysis_id}", timeout=60)
            if status == 202:
                still.append(analysis_id)
            elif status == 200 and document["result"]["error"] is False:
                ok += 1
            else:
                failed += 1
                errors.append(f"{analysis_id}: {status} {str(document)[:300]}")
        remaining = still
        if remaining:
            time.sleep(0.2)
    errors += [f"{analysis_id}: not finished within {timeout} s" for analysis_id in remaining]
    return LoadResult(concurrency, len(ids), ok, failed, errors, post_seconds, time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[20])
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    from tests.support.index_server import SAMPLE_DISTS, build_index

    root = Path(tempfile.mkdtemp(prefix="userapi-load-"))
    index = build_index(SAMPLE_DISTS, name="sample", root=root / "index")
    data_dir, cache_dir = root / "data", root / "cache"
    server = ServerProcess(
        port=free_port(),
        data_dir=data_dir,
        cache_dir=cache_dir,
        args=["--default-index", f"main={index.url}", "--workers", str(options.workers)],
        env=server_environment(data_dir, cache_dir, index.url),
    ).start()
    try:
        for concurrency in options.concurrency:
            result = run_load(server.api_url, index.url, concurrency)
            print(
                f"concurrency={concurrency} accepted={result.accepted} ok={result.finished_ok} "
                f"error={result.finished_error} post_s={result.post_seconds:.2f} total_s={result.total_seconds:.2f} "
                f"per_analysis_s={result.total_seconds / max(result.accepted, 1):.3f}"
            )
            for line in result.errors[:5]:
                print("  ", line)
    finally:
        server.stop()
        index.stop()


if __name__ == "__main__":
    main()

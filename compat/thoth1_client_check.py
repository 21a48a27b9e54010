#!/usr/bin/env python3
"""Drive a real Thoth 1.x client (thamos<2 from the package registry) against this server over TLS.

Manual check, not part of the test suite: it needs the registry to install the old client.
Everything else is local: a self-signed certificate, the test suite's sample index on 127.0.0.1,
`python -m userapi` with TLS, and a small recording proxy in front of it so that every request the
old client sends is kept (work dir/wire.jsonl). Prints a pass/fail table; exits 1 on any failure.

    python compat/thoth1_client_check.py                 # newest thamos 1.x
    python compat/thoth1_client_check.py --client 'thamos==1.27.0' --keep

Run it with the interpreter of the project's environment (it starts the server with it) from
anywhere; the repository root is found from this file's location.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]

# Keeps the sample index of the test suite alive until its stdin closes.
INDEX_PROGRAM = """
import sys, tempfile
from pathlib import Path
from tests.support.index_server import SAMPLE_DISTS, build_index
server = build_index(SAMPLE_DISTS, name="local", root=Path(tempfile.mkdtemp(prefix="thoth1-index-")))
print(server.url, flush=True)
sys.stdin.read()
server.stop()
"""

# Library calls of the 1.x client, run inside its own environment; prints one JSON line per call.
LIBRARY_PROGRAM = """
import json
from thamos import lib
from thamos.config import config

def call(name, function):
    try:
        value = function()
        print(json.dumps({"name": name, "ok": True, "value": repr(value)[:200]}), flush=True)
        return value
    except BaseException as exc:
        print(json.dumps({"name": name, "ok": False, "value": f"{type(exc).__name__}: {exc}"[:400]}), flush=True)

advised = call("lib.advise_here(verify_tls=False)", lambda: lib.advise_here(force=True, verify_tls=False))
if advised is not None and advised[1]:
    print(json.dumps({"name": "lib.advise_here result", "ok": False, "value": "error document"}))
analysis_id = call("lib.advise_here(nowait=True)", lambda: lib.advise_here(nowait=True, force=True))
if analysis_id:
    import time
    while not lib.is_analysis_ready(analysis_id, verify_tls=False):
        time.sleep(0.3)
    call("lib.get_status", lambda: lib.get_status(analysis_id))
    call("lib.get_log", lambda: lib.get_log(analysis_id))
    call("lib.get_analysis_results", lambda: lib.get_analysis_results(analysis_id)[1] is False or 1 / 0)
call("lib.provenance_check_here(verify_tls=False)", lambda: lib.provenance_check_here(force=True, verify_tls=False))
call("lib.list_python_environments", lambda: len(lib.list_python_environments()))
call("lib.list_python_package_indexes", lib.list_python_package_indexes)
call("lib.list_thoth_container_images", lambda: len(lib.list_thoth_container_images()))
call("lib.get_package_from_imported_packages", lambda: lib.get_package_from_imported_packages("legacy_tool"))
call("config.get_thoth_version", config.get_thoth_version)
"""

PACKAGES = {"webapp-framework": "*", "legacy-tool": "*"}
CONSTRAINTS = 'templating<3; python_version >= "3.8"\n'


class CheckError(RuntimeError):
    """The check cannot run (not: a command failed); the message says why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_certificate(directory: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        raise CheckError("openssl is needed to make the self-signed certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", str(key),
         "-out", str(cert), "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


# -- the recording proxy ------------------------------------------------------------------------


class RecordingProxy:
    """TLS in front of the server: forwards every request unchanged and writes it to a JSONL file."""

    HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}

    def __init__(self, upstream_port: int, cert: Path, key: Path, record: Path) -> None:
        self.port = free_port()
        self.record = record
        self._lock = threading.Lock()
        upstream_context = ssl.create_default_context(cafile=str(cert))
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")
                }
                upstream = http.client.HTTPSConnection(
                    "localhost", upstream_port, context=upstream_context, timeout=120
                )
                try:
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    answer_headers = answer.getheaders()
                finally:
                    upstream.close()
                proxy.write(self.command, self.path, dict(self.headers.items()), body, answer.status, data)
                self.send_response(answer.status)
                for name, value in answer_headers:
                    if name.lower() not in RecordingProxy.HOP_BY_HOP:
                        self.send_header(name, value)
                content_length = dict((k.lower(), v) for k, v in answer_headers).get("content-length")
                self.send_header(
                    "Content-Length",
                    content_length if self.command == "HEAD" and content_length else str(len(data)),
                )
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = forward  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def write(self, method: str, path: str, headers: dict, body: bytes, status: int, data: bytes) -> None:
        text = body.decode("utf-8", "replace")
        try:
            parsed: Any = json.loads(text) if text else None
        except ValueError:
            parsed = text
        entry = {"method": method, "path": path, "user_agent": headers.get("User-Agent"), "body": parsed,
                 "status": status, "answer": data.decode("utf-8", "replace")[:2000]}  # fmt: skip
        with self._lock, self.record.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")

    def stop(self) -> None:
        self.server.shutdown()


# -- the table ------------------------------------------------------------------------------------


@dataclass
class Row:
    what: str
    outcome: str  # PASS, FAIL or XFAIL (a known defect of the old client itself)
    detail: str = ""


@dataclass
class Check:
    work: Path
    client_python: Path
    client_env: dict[str, str]
    index_url: str
    cert: Path
    rows: list[Row] = field(default_factory=list)

    def thamos(self, project: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        command = [str(self.client_python.parent / "thamos"), *args]
        return subprocess.run(command, cwd=project, env=self.client_env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip

    def command(self, project: Path, args: list[str], *, expect_rc: int = 0, expect: str | None = None,
                known_defect: str | None = None, files: tuple[str, ...] = ()) -> subprocess.CompletedProcess:  # fmt: skip
        done = self.thamos(project, *args)
        output = done.stdout + done.stderr
        (self.work / "logs").mkdir(exist_ok=True)
        log_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", " ".join(args))[:80]
        (self.work / "logs" / f"{project.name}-{log_name}.log").write_text(output, encoding="utf-8")
        problems = []
        if done.returncode != expect_rc:
            problems.append(f"exit {done.returncode}, expected {expect_rc}")
        if expect and not re.search(expect, output):
            problems.append(f"output lacks {expect!r}")
        problems += [f"{name} not written" for name in files if not (project / name).is_file()]
        last_error = next(
            (line for line in reversed(output.splitlines()) if "ERROR" in line or "Error" in line), ""
        )
        what = "thamos " + " ".join(args)
        if known_defect and problems:
            self.rows.append(Row(what, "XFAIL", known_defect))
        elif problems:
            self.rows.append(
                Row(what, "FAIL", "; ".join(problems) + (f" | {last_error.strip()}" if last_error else ""))
            )
        else:
            self.rows.append(Row(what, "PASS", f"exit {done.returncode}"))
        return done


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--client", default="thamos<2", help="requirement of the old client (default 'thamos<2')"
    )
    parser.add_argument("--work-dir", help="directory to work in (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    options = parser.parse_args(argv)

    work = Path(options.work_dir or tempfile.mkdtemp(prefix="thoth1-check-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    processes: list[subprocess.Popen] = []
    proxy: RecordingProxy | None = None
    try:
        check, proxy = prepare(work, options.client, processes)
        exercise(check, proxy)
        return report(check, work / "wire.jsonl")
    except CheckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if proxy is not None:
            proxy.stop()
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        if options.keep:
            print(f"\nwork directory kept: {work} (wire.jsonl, logs/, server.log)")
        else:
            shutil.rmtree(work, ignore_errors=True)


def prepare(work: Path, client: str, processes: list[subprocess.Popen]) -> tuple[Check, RecordingProxy]:
    print(f"installing {client} into a throwaway environment ...", flush=True)
    venv = work / "client-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", client], capture_output=True, text=True
    )
    if installed.returncode != 0:
        raise CheckError(
            f"pip could not install {client}:\n{installed.stdout[-3000:]}{installed.stderr[-3000:]}"
        )
    version = subprocess.run([str(python), "-c", "import thamos; print(thamos.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    print(f"client: thamos {version}", flush=True)

    cert, key = make_certificate(work)
    index = subprocess.Popen([sys.executable, "-c", INDEX_PROGRAM], cwd=REPO_ROOT, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    processes.append(index)
    index_url = index.stdout.readline().strip() if index.stdout else ""
    if not index_url.startswith("http://"):
        raise CheckError("the sample index did not start (run from a checkout with tests/support)")

    port = free_port()
    server_env = {k: v for k, v in os.environ.items() if not k.startswith(("THAMOS_", "PIP_"))}
    server_env.update(PIP_CONFIG_FILE=os.devnull, NO_PROXY="127.0.0.1,localhost",
                      PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))  # fmt: skip
    with (work / "server.log").open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "userapi", "--host", "127.0.0.1", "--port", str(port), "--certfile", str(cert),
             "--keyfile", str(key), "--data-dir", str(work / "data"), "--cache-dir", str(work / "cache"),
             "--default-index", f"local={index_url}"],
            cwd=REPO_ROOT, env=server_env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    processes.append(server)
    wait_ready(port, cert, server, work / "server.log")
    proxy = RecordingProxy(port, cert, key, work / "wire.jsonl")

    client_env = {k: v for k, v in os.environ.items() if not k.startswith(("THAMOS_", "PIP_", "VIRTUAL_ENV"))}
    client_env.update(
        PATH=str(venv / "bin") + os.pathsep + os.environ.get("PATH", ""),
        HOME=str(work / "home"),
        THAMOS_DISABLE_TLS_WARNING="1",
        THAMOS_NO_PROGRESSBAR="1",
        THAMOS_NO_EMOJI="1",
        THAMOS_NO_INTERACTIVE="1",
        NO_PROXY="127.0.0.1,localhost",
        PIP_CONFIG_FILE=os.devnull,
    )
    (work / "home").mkdir(exist_ok=True)
    check = Check(work, python, client_env, index_url, cert)
    check.rows.append(Row(f"install {client}", "PASS", f"thamos {version}"))
    return check, proxy


def wait_ready(port: int, cert: Path, server: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    context = ssl.create_default_context(cafile=str(cert))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise CheckError(f"the server exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=2)
            connection.request("GET", "/readiness")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise CheckError(f"the server did not become ready in {timeout} s")


def project_dir(check: Check, name: str, packages: dict[str, str], proxy_port: int) -> Path:
    """A project as a 1.x user has it: Pipfile on the local index, then `thamos config`."""
    project = check.work / name
    project.mkdir()
    lines = [
        "[[source]]",
        f'url = "{check.index_url}"',
        "verify_ssl = false",
        'name = "local"',
        "",
        "[packages]",
    ]
    lines += [f'{package} = "{spec}"' for package, spec in packages.items()]
    lines += ["", "[dev-packages]", "", "[requires]", 'python_version = "3.11"', ""]
    (project / "Pipfile").write_text("\n".join(lines), encoding="utf-8")
    (project / "app.py").write_text("import webapp_framework\nimport legacy_tool\n", encoding="utf-8")
    check.command(project, ["config"], files=(".thoth.yaml",))
    config = project / ".thoth.yaml"
    if config.is_file():  # point the generated configuration at our server, as a user edits it
        text = re.sub(r"(?m)^host: .*$", f"host: localhost:{proxy_port}", config.read_text(encoding="utf-8"))
        text = re.sub(r"(?m)^tls_verify: .*$", "tls_verify: false", text)
        text = re.sub(r"(?m)^(\s+python_version: ).*$", r"\1'3.11'", text)
        config.write_text(text, encoding="utf-8")
    return project


def last_analysis(wire: Path, kind: str) -> str:
    ids = []
    for line in wire.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["method"] == "POST" and entry["status"] == 202 and f"/{kind}/python" in entry["path"]:
            ids.append(json.loads(entry["answer"])["analysis_id"])
    return ids[-1] if ids else "none-found"


def exercise(check: Check, proxy: RecordingProxy) -> None:
    project = project_dir(check, "project", PACKAGES, proxy.port)
    (project / "constraints.txt").write_text(CONSTRAINTS, encoding="utf-8")
    wire = proxy.record
    api = rf"https://localhost:{proxy.port}/api/v1"

    check.command(project, ["version"], expect=re.escape(api) + r": \S+")
    check.command(project, ["advise"], files=("Pipfile.lock",))
    lock = json.loads((project / "Pipfile.lock").read_text()) if (project / "Pipfile.lock").is_file() else {}
    locked = lock.get("default", {}).get("templating", {}).get("version")
    check.rows.append(
        Row(
            "constraints.txt applied (templating<3)",
            "PASS" if locked == "==2.0" else "FAIL",
            f"templating {locked}",
        )
    )
    adviser_id = last_analysis(wire, "advise")
    check.command(project, ["log"], expect="resolv")
    check.command(project, ["status"], expect="terminated")
    check.command(project, ["results", adviser_id], expect="webapp-framework")
    check.command(project, ["graph", adviser_id], expect="webapp-framework==")
    check.command(project, ["diff", adviser_id, adviser_id], expect="No differences")
    check.command(project, ["advise", "--json", "--force"], expect='"requirements_locked"')
    check.command(project, ["verify"])
    check.command(project, ["provenance-check"])
    provenance_id = last_analysis(wire, "provenance")
    check.command(project, ["status", provenance_id], expect="terminated")
    check.command(project, ["log", provenance_id], expect="provenance")
    check.command(project, ["environments"], expect="3.11")
    check.command(project, ["images"], expect="RUNTIME")
    check.command(project, ["indexes"], expect=re.escape(check.index_url))
    check.command(project, ["whatprovides", "legacy_tool"], expect="legacy-tool")
    # Known to this backend only for wheels it has read (PEP 658 metadata names no modules).
    check.command(project, ["whatprovides", "webapp_framework"], expect_rc=1, expect="No package providing")
    check.command(project, ["install"], expect="webapp-framework")
    check.command(project, ["support"], known_defect="1.x calls discover_rpm_package() without its argument")

    broken = project_dir(check, "unresolvable", {"signals": ">=5"}, proxy.port)
    check.command(broken, ["advise"], expect_rc=4, expect=r"signals>=5")

    library = subprocess.run([str(check.client_python), "-c", LIBRARY_PROGRAM], cwd=project, env=check.client_env,
                             capture_output=True, text=True, timeout=600)  # fmt: skip
    (check.work / "logs" / "library.log").write_text(library.stdout + library.stderr, encoding="utf-8")
    results = [json.loads(line) for line in library.stdout.splitlines() if line.startswith("{")]
    if not results:
        check.rows.append(Row("library calls", "FAIL", library.stderr.strip()[-300:]))
    for result in results:
        check.rows.append(Row(result["name"], "PASS" if result["ok"] else "FAIL", result["value"][:120]))

    verified_tls(check, project, proxy)


def verified_tls(check: Check, project: Path, proxy: RecordingProxy) -> None:
    """tls_verify: true, with the certificate trusted the only ways 1.x can be told to.

    Its generated client (urllib3) reads certifi's bundle and nothing else, so the certificate is
    appended to that bundle in the throwaway environment; its discovery and polling (requests) honour
    REQUESTS_CA_BUNDLE, which is pointed at the same file.
    """
    bundle = subprocess.run([str(check.client_python), "-c", "import certifi; print(certifi.where())"],
                            capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    with open(bundle, "a", encoding="utf-8") as handle:
        handle.write("\n" + check.cert.read_text(encoding="utf-8"))
    check.client_env.update(REQUESTS_CA_BUNDLE=bundle, CURL_CA_BUNDLE=bundle)
    config = project / ".thoth.yaml"
    config.write_text(
        re.sub(r"(?m)^tls_verify: .*$", "tls_verify: true", config.read_text()), encoding="utf-8"
    )
    check.command(project, ["version"], expect=r"Thoth API https://localhost")
    check.command(project, ["advise", "--force"], files=("Pipfile.lock",))
    # Trusting another certificate instead, the client is refused: the verification is real.
    (check.work / "other").mkdir()
    other_cert, _ = make_certificate(check.work / "other")
    check.client_env.update(REQUESTS_CA_BUNDLE=str(other_cert))
    check.command(
        project, ["advise", "--force", "--no-wait"], expect_rc=1, expect="CERTIFICATE_VERIFY_FAILED|SSL"
    )


def report(check: Check, wire: Path) -> int:
    requests = (
        [json.loads(line) for line in wire.read_text(encoding="utf-8").splitlines()] if wire.exists() else []
    )
    shapes: dict[tuple[str, str, int], int] = {}
    for entry in requests:
        path, _, query = entry["path"].partition("?")
        path = re.sub(r"(adviser|provenance-checker)-\d{12}-[0-9a-f]{16}", r"{\1-id}", path)
        keys = "&".join(sorted(part.split("=")[0] for part in query.split("&") if part))
        key = (entry["method"], path + (f"?{keys}" if keys else ""), entry["status"])
        shapes[key] = shapes.get(key, 0) + 1
    print("\nRequests the 1.x client sent (method, path?query keys, status, count):")
    for (method, path, status), count in sorted(shapes.items()):
        print(f"  {method:5} {path:75} {status}  x{count}")
    server_errors = [entry for entry in requests if entry["status"] >= 500]
    check.rows.append(
        Row("no 5xx answer on the wire", "FAIL" if server_errors else "PASS", f"{len(requests)} requests")
    )

    width = max(len(row.what) for row in check.rows)
    print(f"\n{'check':{width}}  result  detail")
    print(f"{'-' * width}  ------  {'-' * 40}")
    for row in check.rows:
        print(f"{row.what:{width}}  {row.outcome:6}  {row.detail}")
    counts = {
        outcome: sum(row.outcome == outcome for row in check.rows) for outcome in ("PASS", "FAIL", "XFAIL")
    }
    print(
        f"\n{counts['PASS']} passed, {counts['FAIL']} failed, {counts['XFAIL']} known defects of the old client"
    )
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(run())

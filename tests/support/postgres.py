"""A private PostgreSQL cluster for the tests, and a fresh database per test.

``THAMOS_TEST_POSTGRES_URL`` (set by .ci/run) names a running server to use. Without it, the
session starts its own cluster from the PostgreSQL binaries (Debian's package ``postgresql``:
/usr/lib/postgresql/*/bin): initdb in a temporary directory, a free port on 127.0.0.1, run as an
unprivileged user when the tests run as root (initdb refuses root), stopped when the session
ends. Without binaries the PostgreSQL tests are skipped with a message, except when CI=1/true or
THAMOS_REQUIRE_POSTGRES=1, where that is an error.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ADMIN_USER = "thamos_test"


def _required() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes") or os.environ.get(
        "THAMOS_REQUIRE_POSTGRES", ""
    ) in ("1", "true", "yes")


def find_binaries() -> Path | None:
    """The newest PostgreSQL bin directory with initdb and pg_ctl, if any."""
    on_path = shutil.which("pg_ctl")
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name or 0))
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for folder in reversed(candidates):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _unprivileged_user() -> str | None:
    """The user the cluster runs as when we are root: postgres (Debian's), else one made for it."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", ADMIN_USER):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", ADMIN_USER], check=True)
    return ADMIN_USER


@dataclass
class Cluster:
    """A running private cluster: its directory, port and how to stop and start it again."""

    bin_dir: Path
    root: Path
    port: int
    run_as: str | None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def admin_url(self) -> str:
        return f"postgresql://{ADMIN_USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.run_as:
            shutil.chown(self.root, self.run_as)
        self._run("initdb", "-D", str(self.data), "-U", ADMIN_USER, "-A", "trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        result = self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w",
                           "start", check=False)  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {result.stdout}{result.stderr}{self.log()}")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def log(self) -> str:
        path = self.root / "log"
        return path.read_text(errors="replace") if path.exists() else ""


def start_cluster() -> Cluster:
    bin_dir = find_binaries()
    if bin_dir is None:
        raise FileNotFoundError("no PostgreSQL binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin or on PATH")
    root = Path(tempfile.mkdtemp(prefix="thamos-pg-"))
    os.chmod(root, 0o755)
    cluster = Cluster(bin_dir=bin_dir, root=root, port=_free_port(), run_as=_unprivileged_user())
    cluster.init()
    cluster.start()
    return cluster


def create_database(admin_url: str) -> str:
    """A new empty database on the server of `admin_url`; its URL."""
    import psycopg

    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]  # name made here
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[tuple[str, Cluster | None]]:
    """(admin URL, the cluster when this session started it)."""
    given = os.environ.get("THAMOS_TEST_POSTGRES_URL")
    if given:
        yield given, None
        return
    try:
        cluster = start_cluster()
    except (FileNotFoundError, RuntimeError, subprocess.SubprocessError) as exc:
        message = f"PostgreSQL tests need a server: {exc} (install the postgresql package or set THAMOS_TEST_POSTGRES_URL)"
        if _required():
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield cluster.admin_url, cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(cluster.root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh, empty database for one test."""
    return create_database(postgres_server[0])


@pytest.fixture
def private_cluster() -> Iterator[Cluster]:
    """A cluster of this test's own, which the test may stop and start (fault tests)."""
    try:
        cluster = start_cluster()
    except (FileNotFoundError, RuntimeError, subprocess.SubprocessError) as exc:
        message = f"this test needs the PostgreSQL binaries: {exc}"
        if _required():
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(cluster.root, ignore_errors=True)

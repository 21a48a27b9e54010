"""A team server on a real PostgreSQL: API processes and `thamos worker` processes sharing one
database, the unchanged client against them, and the faults a team meets (a worker killed
mid-analysis, the database stopped for a few seconds, a password that must not show)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.index_server import SAMPLE_DISTS
from tests.userapi.conftest import (
    REPO_ROOT,
    ServerProcess,
    advise_body,
    free_port,
    request,
    server_environment,
    wait_for_document,
)

ADVISE = "/advise/python"


class Worker:
    """One `thamos worker` process."""

    def __init__(self, root: Path, number: int, url: str, index_url: str, *extra: str):
        self.log_path = root / f"worker{number}.log"
        cache = root / f"worker-cache{number}"
        env = server_environment(root / "unused", cache, index_url)
        command = [sys.executable, "-m", "thamos", "worker", "--database", url,
                   "--default-index", f"main={index_url}", "--heartbeat", "0.5", *extra]  # fmt: skip
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_ready(self, timeout: float = 60.0) -> Worker:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log()
            if "worker ready" in self.log():
                return self
            time.sleep(0.1)
        raise AssertionError(f"worker not ready:\n{self.log()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


@pytest.fixture
def team(tmp_path):
    """Factory: team(url, index_url, apis=2, workers=2, worker_args=()) -> (api servers, workers)."""
    started_apis: list[ServerProcess] = []
    started_workers: list[Worker] = []

    def start(url: str, index_url: str, apis: int = 2, workers: int = 2, worker_args: tuple[str, ...] = ()):
        new_workers = [Worker(tmp_path, len(started_workers) + n, url, index_url, *worker_args) for n in range(workers)]
        started_workers.extend(new_workers)
        new_apis = []
        for number in range(apis):
            data, cache = tmp_path / f"api-data{number}", tmp_path / f"api-cache{number}"
            server = ServerProcess(port=free_port(), data_dir=data, cache_dir=cache,
                                   args=["--database", url, "--default-index", f"main={index_url}"],
                                   env=server_environment(data, cache, index_url))  # fmt: skip
            started_apis.append(server)
            new_apis.append(server.start(timeout=60))
        for worker in new_workers:
            worker.wait_ready()
        return new_apis, new_workers

    yield start
    for worker in started_workers:
        worker.stop()
    for server in started_apis:
        server.stop()


def _advise(api, body, **query) -> str:
    suffix = "?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else ""
    status, _, answer = request("POST", api.api_url + ADVISE + suffix, body)
    assert status == 202, answer
    return answer["analysis_id"]


def _body(index_url: str, number: int) -> dict:
    """Distinct small projects (the cache would answer identical ones)."""
    packages = [{"webapp-framework": "*"}, {"templating": "*", "signals": "*"}, {"legacy-tool": "*"},
                {"http-client": "*", "markup-escape": "*"}]
    body = advise_body(index_url, packages[number % len(packages)])
    body["runtime_environment"]["name"] = f"project-{number}"
    return body


def test_two_apis_and_two_workers_answer_fifty_concurrent_advises(team, postgres_url, sample_index):
    apis, _workers = team(postgres_url, sample_index.url, apis=2, workers=2)

    def one(number: int) -> dict:
        api = apis[number % 2]
        analysis_id = _advise(api, _body(sample_index.url, number), force="true")
        # Read through the other API process: the store is shared.
        return wait_for_document(apis[(number + 1) % 2].api_url, ADVISE, analysis_id, timeout=240)

    with ThreadPoolExecutor(max_workers=50) as pool:
        documents = list(pool.map(one, range(50)))
    assert len(documents) == 50
    failed = [doc["result"].get("error_msg") for doc in documents if doc["result"]["error"]]
    assert not failed, failed[:3]
    # The result cache works across API processes: the same request elsewhere is answered from it.
    first = _advise(apis[0], _body(sample_index.url, 1000))
    wait_for_document(apis[0].api_url, ADVISE, first, timeout=120)
    status, _, again = request("POST", apis[1].api_url + ADVISE, _body(sample_index.url, 1000))
    assert status == 202 and again["cached"] is True and again["analysis_id"] == first


def test_the_unchanged_client_works_against_a_team(team, postgres_url, sample_index, tmp_path):
    from tests.thamos.conftest import thamos_env

    apis, _ = team(postgres_url, sample_index.url, apis=2, workers=2)
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pipfile").write_text(advise_body(sample_index.url)["application_stack"]["requirements"])
    (project / ".thoth.yaml").write_text(
        f"host: {apis[0].base_url}\ntls_verify: false\nrequirements_format: pipenv\nruntime_environments:\n"
        "  - name: team\n    operating_system:\n      name: debian\n      version: '12'\n"
        "    python_version: '3.11'\n    platform: linux-x86_64\n    recommendation_type: latest\n"
    )

    def thamos(*arguments: str) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "thamos", *arguments], cwd=project, env=thamos_env(tmp_path),
                                capture_output=True, text=True, timeout=240)  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    thamos("advise")
    assert "webapp-framework" in (project / "Pipfile.lock").read_text()
    # The other API process knows the analysis: status and results read the shared store.
    status = thamos("--host", apis[1].base_url, "status", "-o", "json").stdout
    assert '"state": "terminated"' in status and '"reason": null' in status
    assert "webapp-framework" in thamos("--host", apis[1].base_url, "results", "-o", "json").stdout


def _states(api, ids: list[str]) -> dict[str, str]:
    answers = {analysis_id: request("GET", f"{api.api_url}{ADVISE}/{analysis_id}/status")[2] for analysis_id in ids}
    return {analysis_id: answer["status"]["state"] for analysis_id, answer in answers.items()}


def test_a_killed_worker_s_analyses_are_finished_by_another(team, postgres_url, package_index):
    slow = package_index(SAMPLE_DISTS, delay=1.0)
    (api,), (victim,) = team(postgres_url, slow.url, apis=1, workers=1, worker_args=("--concurrency", "2"))
    ids = [_advise(api, _body(slow.url, number), force="true") for number in range(4)]
    # Once the victim runs two analyses, kill it outright (no goodbye to the database).
    deadline = time.monotonic() + 60
    while list(_states(api, ids).values()).count("running") < 2:
        assert time.monotonic() < deadline, victim.log()
        time.sleep(0.1)
    running = [analysis_id for analysis_id, state in _states(api, ids).items() if state == "running"]
    os.killpg(victim.process.pid, signal.SIGKILL)
    victim.process.wait(10)
    slow.set_delay(0.0)
    _, (rescuer,) = team(postgres_url, slow.url, apis=0, workers=1)
    documents = [wait_for_document(api.api_url, ADVISE, analysis_id, timeout=180) for analysis_id in ids]
    assert all(doc["result"]["error"] is False for doc in documents), [d["result"].get("error_msg") for d in documents]
    for analysis_id in running:
        log = request("GET", f"{api.api_url}{ADVISE}/{analysis_id}/log")[2]["log"]
        assert "analysis restarted (attempt 2)" in log, log
    assert "stopped answering: running it again" in rescuer.log()


def test_the_database_stopped_for_a_few_seconds(private_cluster, team, package_index):
    # private_cluster first: torn down after the team, whose processes stop while it still answers.
    from tests.support.postgres import create_database

    url = create_database(private_cluster.admin_url)
    slow = package_index(SAMPLE_DISTS, delay=0.2)
    (api,), (worker,) = team(url, slow.url, apis=1, workers=1)
    ids = [_advise(api, _body(slow.url, number), force="true") for number in range(3)]
    time.sleep(1.0)
    private_cluster.stop("fast")
    status, _, body = request("GET", f"{api.api_url}{ADVISE}/{ids[0]}")
    assert status == 503 and "database does not answer" in body["error"], body
    status, _, body = request("POST", api.api_url + ADVISE, _body(slow.url, 99))
    assert status == 503, body
    assert request("GET", api.base_url + "/readiness")[0] == 503
    time.sleep(3.0)
    private_cluster.start()
    documents = [wait_for_document(api.api_url, ADVISE, analysis_id, timeout=240) for analysis_id in ids]
    for document in documents:  # finished: succeeded, or failed with a message that says why
        assert document["result"]["error"] is False or document["result"]["error_msg"], document
    assert request("GET", api.base_url + "/readiness")[0] == 200
    assert "trying again" in worker.log()


def test_the_database_password_never_shows(postgres_url, tmp_path):
    secret = "pw-Zq81-never-shown"
    env = server_environment(tmp_path / "d", tmp_path / "c", None)
    unreachable = f"postgresql://someone:{secret}@127.0.0.1:{free_port()}/nothing"
    result = subprocess.run([sys.executable, "-m", "thamos", "db", "upgrade", "--database", unreachable],
                            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode != 0 and "does not answer" in result.stderr, result.stderr
    assert secret not in result.stdout + result.stderr and "someone:***@" in result.stderr
    password_file = tmp_path / "password"
    password_file.write_text(secret + "\n")
    result = subprocess.run([sys.executable, "-m", "thamos", "db", "upgrade", "--database", postgres_url,
                             "--database-password-file", str(password_file)],
                            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout + result.stderr and "up to date" in result.stderr
    assert "task queue schema" in result.stderr and "store schema step 1 applied" in result.stderr


def test_a_worker_needs_a_database(tmp_path):
    env = server_environment(tmp_path / "d", tmp_path / "c", None)
    result = subprocess.run([sys.executable, "-m", "thamos", "worker"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode != 0 and "needs a PostgreSQL database" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_concurrent_upgrades_agree(postgres_url):
    from userapi.store_pg import PostgresStore

    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            PostgresStore(postgres_url).close()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    store = PostgresStore(postgres_url)
    assert store.upgrade() == []  # nothing left to do
    store.close()


def test_an_analysis_interrupted_three_times_fails_with_a_reason(postgres_url):
    """The recovery of stalled jobs on procrastinate's real tables: requeued twice, then given up."""
    import asyncio

    import procrastinate

    from userapi.store_pg import PostgresStore
    from userapi.team import QUEUE, TeamQueue, recover_stalled

    store = PostgresStore(postgres_url)
    queue = TeamQueue(store)
    queue.start()
    analysis = store.create("adviser", {"n": 1}, {})
    queue.submit(analysis.id)

    async def three_workers_vanish() -> list[list[str]]:
        app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=postgres_url))
        recovered = []
        async with app.open_async():
            for attempt in (1, 2, 3):
                worker_id = await app.job_manager.register_worker()
                job = await app.job_manager.fetch_job(queues=[QUEUE], worker_id=worker_id)
                assert job is not None and job.task_kwargs == {"analysis_id": analysis.id}
                assert store.start_attempt(analysis.id) == attempt
                await app.job_manager.unregister_worker(worker_id)  # gone without finishing its job
                recovered.append(await recover_stalled(app, store, stalled_after=30))
            assert await recover_stalled(app, store, stalled_after=30) == []  # nothing stalled is left
        return recovered

    try:
        assert asyncio.run(three_workers_vanish()) == [[analysis.id]] * 3
        failed = store.get(analysis.id)
        assert failed.state == "failed" and failed.attempts == 3
        assert failed.reason == "the analysis was interrupted 3 times (worker stopped or crashed)"
        assert failed.result["result"]["error"] is True
    finally:
        queue.stop()
        store.close()


def test_a_database_that_refuses_is_told_at_once(postgres_server, tmp_path):
    env = server_environment(tmp_path / "d", tmp_path / "c", None)
    missing = postgres_server[0].rsplit("/", 1)[0] + "/no_such_database"
    begun = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "thamos", "db", "upgrade", "--database", missing],
                            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode != 0 and 'database "no_such_database" does not exist' in result.stderr, result.stderr
    assert time.monotonic() - begun < 8  # no waiting for a database that answered no


def test_a_team_refuses_credentials_expanded_by_the_client(team, postgres_url, sample_index):
    (api,), _ = team(postgres_url, sample_index.url, apis=1, workers=0)
    body = advise_body(sample_index.url.replace("http://", "http://${USER}:${PASS}@"))
    body["expanded_sources"] = [{"url": body["application_stack"]["requirements"].split('"')[1],
                                 "expanded_url": sample_index.url.replace("http://", "http://robot:Pa55-word@")}]  # fmt: skip
    status, _, answer = request("POST", api.api_url + ADVISE, body)
    assert status == 400 and "does not pass them index credentials" in answer["error"], answer
    assert "Pa55-word" not in api.log()


def test_the_database_setting_from_a_file_a_variable_or_a_flag(tmp_path, monkeypatch):
    from userapi.cli import load_from_flags
    from userapi.options import SettingsError
    from userapi.settings import load_settings

    monkeypatch.delenv("THAMOS_DATABASE_URL", raising=False)
    secret = tmp_path / "password"
    secret.write_text("pw\n")
    settings_file = tmp_path / "server.yaml"
    settings_file.write_text(f"database_url: postgresql://team@db.internal/thamos\ndatabase_password_file: {secret}\n")
    from_file = load_settings(settings_file)
    assert from_file.database_url == "postgresql://team@db.internal/thamos"
    assert from_file.database_password_file == secret
    monkeypatch.setenv("THAMOS_DATABASE_URL", "postgresql://other@db.internal/thamos")
    assert load_settings(settings_file).database_url == "postgresql://other@db.internal/thamos"
    flagged = load_from_flags({"config_file": str(settings_file), "database_url": "postgres://third@h/x"})
    assert flagged.database_url == "postgres://third@h/x"
    with pytest.raises(SettingsError) as refused:
        load_from_flags({"database_url": "mysql://user:Zz-secret@h/x"})
    assert "must be a postgresql:// URL" in str(refused.value) and "Zz-secret" not in str(refused.value)
    assert "(set by --database)" in str(refused.value)

"""thamos.backend: polling schedule, ids, query hygiene, retry settings, and the typed calls to the generated client."""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading

import pytest

import swagger_client
from tests.thamos.fake_backend import ANALYSIS_ID, FakeBackend
from thamos import backend
from thamos.config import Configuration
from thamos.exceptions import BackendUnreachableError, BadInputError, ConfigurationError
from thamos.project_files import Stack


def test_polling_starts_fast_and_backs_off_to_one_second() -> None:
    delays = list(itertools.islice(backend.poll_delays(), 30))
    assert delays[0] == pytest.approx(0.01)
    assert all(later >= earlier for earlier, later in itertools.pairwise(delays))
    assert max(delays) == pytest.approx(1.0) and delays[-1] == pytest.approx(1.0)
    # A result ready within 100 ms is noticed within ~20 ms of it, not after a fixed wait.
    assert sum(delays[:6]) < 0.12 and delays[6] < 0.04
    # A long analysis is polled about once a second after the first few seconds.
    assert sum(delays[:delays.index(1.0)]) < 6.0


def test_unset_values_are_dropped_not_stringified() -> None:
    assert backend.without_none({"origin": None, "dev": False, "count": 0, "recommendation_type": "stable"}) == {
        "dev": False, "count": 0, "recommendation_type": "stable"}


@pytest.mark.parametrize(
    ("analysis_id", "kind"),
    [("adviser-240101120000-0123456789abcdef", "adviser"),
     ("provenance-checker-240101120000-0123456789abcdef", "provenance-checker")],
)
def test_analysis_kind(analysis_id: str, kind: str) -> None:
    assert backend.analysis_kind(analysis_id) == kind


@pytest.mark.parametrize("analysis_id", ["", "adviser", "inspection-240101120000-0123", "../../etc"])
def test_bad_analysis_ids(analysis_id: str) -> None:
    with pytest.raises(BadInputError):
        backend.analysis_kind(analysis_id)


def test_retry_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THAMOS_RETRY_ON_ERROR_COUNT", raising=False)
    monkeypatch.delenv("THAMOS_RETRY_ON_ERROR_SLEEP", raising=False)
    assert backend.retry_count() == 3 and backend.retry_sleep() == 3.0
    monkeypatch.setenv("THAMOS_RETRY_ON_ERROR_COUNT", "0")
    monkeypatch.setenv("THAMOS_RETRY_ON_ERROR_SLEEP", "0.5")
    assert backend.retry_count() == 0 and backend.retry_sleep() == 0.5
    monkeypatch.setenv("THAMOS_TIMEOUT", "soon")
    with pytest.raises(ConfigurationError, match="THAMOS_TIMEOUT"):
        backend.default_timeout()


def test_runtime_environment_payload_drops_client_only_keys() -> None:
    payload = backend.runtime_environment_payload(
        {"name": "x", "labels": {"a": "b"}, "base_image": "", "python_version": "3.11"}, "latest")
    assert payload == {"name": "x", "base_image": None, "python_version": "3.11", "recommendation_type": "latest"}


# ---------------------------------------------------------------------- typed calls
STACK = Stack(requirements='[packages]\nflask = "*"\n', requirements_lock=None, requirements_format="pipenv",
              constraints="flask<4\n")
ENVIRONMENT = {"name": "x", "labels": {"a": "b"}, "base_image": "", "python_version": "3.11",
               "operating_system": {"name": "fedora", "version": "40"},
               "hardware": {"cpu_family": 6, "cpu_model": None, "gpu_model": None}}


def _configuration(url: str) -> Configuration:
    configuration = Configuration()
    configuration.explicit_host = url
    configuration.load_config_from_string("runtime_environments:\n- name: x\n")
    return configuration


def test_advise_body_is_the_generated_model_and_its_json() -> None:
    body = backend.advise_input(
        STACK, backend.runtime_environment_payload(ENVIRONMENT, "latest"), labels={"team": "thoth"},
        expanded_sources=[{"url": "https://${U}@host/simple", "expanded_url": "https://me@host/simple"}],
        local_packages=[{"name": "mylib", "version": "0.1", "path": "./mylib", "editable": True,
                         "metadata": "Name: mylib\nVersion: 0.1\n"}],
    )
    assert isinstance(body, swagger_client.AdviseInput)
    assert isinstance(body.runtime_environment.operating_system, swagger_client.OperatingSystem)
    assert isinstance(body.local_packages[0], swagger_client.LocalPackage)
    sent = swagger_client.ApiClient().sanitize_for_serialization(body)
    # Unset values are left out; the backend reads a missing field as null.
    assert sent == {
        "application_stack": {"requirements": STACK.requirements, "requirements_format": "pipenv",
                              "constraints": "flask<4\n"},
        "runtime_environment": {"name": "x", "python_version": "3.11", "recommendation_type": "latest",
                                "operating_system": {"name": "fedora", "version": "40"},
                                "hardware": {"cpu_family": 6}},
        "labels": {"team": "thoth"},
        "expanded_sources": [{"url": "https://${U}@host/simple", "expanded_url": "https://me@host/simple"}],
        "local_packages": [{"name": "mylib", "version": "0.1", "path": "./mylib", "editable": True,
                            "metadata": "Name: mylib\nVersion: 0.1\n"}],
    }


def test_a_body_the_model_refuses_is_bad_input_before_any_request(fake_backend: FakeBackend) -> None:
    empty = Stack(requirements="", requirements_lock=None, requirements_format="pipenv", constraints=None)
    connection = backend.Backend(_configuration(fake_backend.url))
    with pytest.raises(BadInputError, match="invalid request: .*requirements"):
        backend.submit_advise(empty, {"name": "x"}, backend=connection)
    with pytest.raises(BadInputError, match="invalid request: .*requirements"):
        backend.submit_provenance_check(empty, backend=connection)
    assert fake_backend.requests == []


def test_submission_answer_is_read_through_the_model(fake_backend: FakeBackend) -> None:
    connection = backend.Backend(_configuration(fake_backend.url))
    locked = dataclasses.replace(STACK, requirements_lock='{"default": {}}')
    submitted = backend.submit_provenance_check(locked, force=True, backend=connection)
    assert submitted == backend.Submitted(ANALYSIS_ID, False, {})
    assert json.loads(fake_backend.bodies[0]) == {"application_stack": {
        "requirements": STACK.requirements, "requirements_lock": '{"default": {}}', "requirements_format": "pipenv",
        "constraints": "flask<4\n"}, "requirements_format": "pipenv"}  # the model's default, not read
    # Without a lock there is nothing to check: bad input, before any request.
    with pytest.raises(BadInputError, match="requirements_lock"):
        backend.submit_provenance_check(STACK, backend=connection)
    assert len(fake_backend.bodies) == 1
    # An answer the model refuses (a required field null) is one clear error, not a traceback.
    fake_backend.post_answer = {"analysis_id": None, "cached": False, "authenticated": False, "parameters": {}}
    with pytest.raises(BackendUnreachableError, match="does not match the User API: .*analysis_id"):
        backend.submit_advise(STACK, {"name": "x"}, backend=connection)


def test_pending_documents_stay_json(fake_backend: FakeBackend) -> None:
    connection = backend.Backend(_configuration(fake_backend.url))
    # The fake's pending answer is not an AnalysisUnfinishedResultResponse; read as JSON it still works.
    assert backend.get_analysis_results(ANALYSIS_ID, connection) is None
    fake_backend.mode, fake_backend.document = "done", {"result": {"report": {"extra": [1]}}, "x-thoth": "kept"}
    assert backend.get_analysis_results(ANALYSIS_ID, connection) == fake_backend.document


def test_results_are_long_polled_and_a_server_that_answers_at_once_is_polled(fake_backend: FakeBackend) -> None:
    # The fake answers every request at once, as thamos 1.x's servers did: the client asks for a
    # long poll (wait=...), sees the answer was not held, and pauses between requests instead.
    connection = backend.Backend(_configuration(fake_backend.url))

    def finish() -> None:
        fake_backend.document = {"result": {"report": {}}}
        fake_backend.mode = "done"

    timer = threading.Timer(0.4, finish)
    timer.start()
    try:
        document = backend.wait_for_results(ANALYSIS_ID, backend=connection, deadline=backend.Deadline(30))
    finally:
        timer.cancel()
    assert document == {"result": {"report": {}}}
    gets = [path for method, path in fake_backend.requests if method == "GET"]
    assert all(f"wait={backend.LONG_POLL}" in path for path in gets)
    assert 3 <= len(gets) <= 20  # polled with pauses (10 ms, growing), not in a busy loop

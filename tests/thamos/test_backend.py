"""Pieces of thamos.backend that need no backend: polling schedule, ids, query hygiene, retry settings."""

from __future__ import annotations

import itertools

import pytest

from thamos import backend
from thamos.exceptions import BadInputError, ConfigurationError


def test_polling_starts_fast_and_backs_off_to_one_second() -> None:
    delays = list(itertools.islice(backend.poll_delays(), 20))
    assert delays[0] == pytest.approx(0.05)
    assert all(later >= earlier for earlier, later in itertools.pairwise(delays))
    assert max(delays) == pytest.approx(1.0) and delays[-1] == pytest.approx(1.0)
    # A result ready within a second is noticed after a handful of polls, not after a fixed 1 s wait.
    assert sum(delays[:5]) < 1.0


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

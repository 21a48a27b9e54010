"""Twenty advise requests at once: all accepted, all finished by the real adviser without error."""

from __future__ import annotations

from tests.userapi.load import run_load


def test_twenty_concurrent_advise_requests(shared_server, sample_index):
    result = run_load(shared_server.api_url, sample_index.url, concurrency=20, timeout=180)
    assert result.errors == []
    assert result.accepted == 20 and result.finished_ok == 20

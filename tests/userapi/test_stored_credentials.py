"""A [[source]] with a password: the stored result, the analysis log and the server log never hold it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.userapi.conftest import advise_body, request, wait_for_document

SECRET = "s3cret-pass"


def test_stored_results_never_hold_a_sources_password(start_server, sample_index):
    server = start_server(index_url=sample_index.url)
    body = advise_body(sample_index.url)
    body["application_stack"]["requirements"] = body["application_stack"]["requirements"].replace(
        f'url = "{sample_index.url}"', f'url = "http://reader:{SECRET}@127.0.0.1:1/simple/"')
    status, _, submitted = request("POST", server.api_url + "/advise/python", body)
    assert status == 202, submitted
    document = wait_for_document(server.api_url, "/advise/python", submitted["analysis_id"])
    assert document["result"]["error"] is True and "http://***@127.0.0.1:1/simple/" in document["result"]["error_msg"]
    _, _, log = request("GET", server.api_url + f"/advise/python/{submitted['analysis_id']}/log")
    stored = json.dumps(document["result"]) + json.dumps(log) + Path(server.log_path).read_text()
    assert SECRET not in stored

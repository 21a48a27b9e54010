"""Bad requests are answered as bad requests, never 500 or a silently ignored body: no Content-Type
(415), JSON nested 5,000 levels deep (400), a lone surrogate in a requirement (400); unknown query
parameters are not logged at ERROR."""

from __future__ import annotations

import json
import socket

from tests.userapi.conftest import advise_body, request


def raw_post(port: int, path: str, body: bytes) -> tuple[int, dict]:
    """A POST with a body and no Content-Type header at all."""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head + body)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, json.loads(answer.split(b"\r\n\r\n", 1)[1] or b"{}")


def test_bad_request_shapes(shared_server, sample_index):
    body = json.dumps(advise_body(sample_index.url)).encode()
    status, answer = raw_post(shared_server.port, "/api/v1/advise/python", body)
    assert status == 415 and "Content-Type: application/json" in answer["error"]

    nested = b"[" * 5000 + b"]" * 5000
    status, _, answer = request("POST", shared_server.api_url + "/advise/python", raw_body=nested)
    assert status == 400 and "nests" in answer["error"], answer

    surrogate = advise_body(sample_index.url)
    surrogate["application_stack"]["requirements"] += '"\ud800" = "*"\n'
    raw = json.dumps(surrogate).encode()  # ensure_ascii: the lone surrogate travels as \ud800
    status, _, answer = request("POST", shared_server.api_url + "/advise/python", raw_body=raw)
    assert status == 400, answer
    assert answer["error"] == "body.application_stack.requirements: a lone surrogate (\\ud800) is not valid text"


def test_unknown_query_parameters_are_not_logged_as_errors(shared_server):
    name = "zz" + "A" * 500
    status, _, _ = request("GET", shared_server.api_url + f"/advise/python/adviser-x/status?{name}=1")
    assert status in (200, 400)
    assert "not defined in specification" not in shared_server.log()
    assert name not in shared_server.log()

"""Server behaviour: several indexes at once, failure modes, request log, keep-alive, stop."""

from __future__ import annotations

import http.client
import socket
import threading
from urllib.parse import urlsplit

import pytest

from tests.index.helpers import JSON_TYPE, fetch, json_page
from tests.support.index_server import Dist


def _hashes(server, project: str) -> dict[str, str]:
    return {e["filename"]: e["hashes"]["sha256"] for e in json_page(server.project_url(project))["files"]}


def test_two_indexes_serve_identical_files_identically(package_index):
    shared = [Dist("common", "1.0", requires_dist=("dep>=1",)), Dist("common", "1.1")]
    main = package_index(shared, name="main")
    mirror = package_index(shared, name="mirror")
    assert main.url != mirror.url
    assert _hashes(main, "common") == _hashes(mirror, "common")
    filename = "common-1.0-py3-none-any.whl"
    assert fetch(main.file_url(filename)).body == fetch(mirror.file_url(filename)).body


def test_two_indexes_with_different_files_for_a_project(package_index):
    main = package_index([Dist("common", "1.0"), Dist("common", "2.0")], name="main")
    other = package_index([Dist("common", "1.0", build_tag="1"), Dist("common", "3.0")], name="other")
    assert json_page(main.project_url("common"))["versions"] == ["1.0", "2.0"]
    assert json_page(other.project_url("common"))["versions"] == ["1.0", "3.0"]
    main_hashes, other_hashes = _hashes(main, "common"), _hashes(other, "common")
    assert "common-1.0-1-py3-none-any.whl" in other_hashes
    assert "common-1.0-1-py3-none-any.whl" not in main_hashes
    assert main_hashes["common-1.0.tar.gz"] == other_hashes["common-1.0.tar.gz"]  # same sdist on both
    assert set(main_hashes.values()) & set(other_hashes.values()) == {main_hashes["common-1.0.tar.gz"]}


def test_requests_are_recorded_with_range_headers(package_index):
    server = package_index([Dist("logged", "1.0")])
    fetch(server.project_url("logged"), headers={"Accept": JSON_TYPE})
    fetch(server.file_url("logged-1.0-py3-none-any.whl"), headers={"Range": "bytes=-10"})
    fetch(server.file_url("logged-1.0-py3-none-any.whl"), method="HEAD")
    assert server.requests == [
        ("GET", "/simple/logged/", None),
        ("GET", "/files/logged/logged-1.0-py3-none-any.whl", "bytes=-10"),
        ("HEAD", "/files/logged/logged-1.0-py3-none-any.whl", None),
    ]
    assert server.requests[1].range == "bytes=-10"
    server.clear_requests()
    assert server.requests == []


def test_request_log_is_complete_under_concurrency(package_index):
    server = package_index([Dist("busy", "1.0")])
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(10):
                assert fetch(server.project_url("busy")).status == 200
        except BaseException as error:  # reported below, in the test thread
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(server.requests) == 80


def test_fail_status_answers_every_request_and_can_be_lifted(package_index):
    server = package_index([Dist("flaky", "1.0")], fail_status=500)
    for url in (server.url, server.project_url("flaky"), server.file_url("flaky-1.0.tar.gz")):
        assert fetch(url).status == 500
    assert fetch(server.file_url("flaky-1.0.tar.gz"), method="HEAD").status == 500
    server.set_fail_status(None)
    assert fetch(server.project_url("flaky")).status == 200
    server.set_fail_status(503)
    assert fetch(server.project_url("flaky")).status == 503
    assert len(server.requests) == 6  # failed requests are recorded too


def test_delay_makes_a_short_client_timeout_expire(package_index):
    # No duration is measured: a client whose timeout is far below the delay must give up.
    server = package_index([Dist("slow", "1.0")], delay=3.0)
    with pytest.raises(TimeoutError):
        fetch(server.project_url("slow"), timeout=0.3)
    server.set_delay(0)
    assert fetch(server.project_url("slow"), timeout=10).status == 200


def test_keep_alive_serves_several_requests_on_one_connection(sample_index):
    parts = urlsplit(sample_index.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        for project in ("signals", "templating", "no-such-project", "signals"):
            connection.request("GET", f"/simple/{project}/", headers={"Accept": JSON_TYPE})
            answer = connection.getresponse()
            body = answer.read()
            assert answer.version == 11 and not answer.will_close
            assert len(body) == int(answer.headers["Content-Length"])
        connection.request("GET", "/simple/Signals/")
        redirect = connection.getresponse()
        redirect.read()
        assert redirect.status == 301
        connection.request("HEAD", "/simple/signals/")
        head = connection.getresponse()
        head.read()
        assert head.status == 200
    finally:
        connection.close()


def test_new_releases_can_be_published_while_running(package_index):
    server = package_index([Dist("growing", "1.0")])
    assert json_page(server.project_url("growing"))["versions"] == ["1.0"]
    server.add_dists([Dist("growing", "1.1"), Dist("sprout", "0.1")])
    assert json_page(server.project_url("growing"))["versions"] == ["1.0", "1.1"]
    assert "sprout" in {p["name"] for p in json_page(server.url)["projects"]}
    with pytest.raises(ValueError, match="already has a file"):
        server.add_dists([Dist("growing", "1.1")])


def test_stop_closes_the_socket_and_open_connections(package_index):
    server = package_index([Dist("brief", "1.0")])
    parts = urlsplit(server.url)
    idle = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    idle.request("GET", "/simple/brief/")
    idle.getresponse().read()
    server.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((parts.hostname, parts.port), timeout=5).close()
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        idle.request("GET", "/simple/brief/")
        idle.getresponse()
    idle.close()
    server.stop()  # a second stop is harmless


def test_index_without_root_cleans_up_after_itself():
    from tests.support.index_server import build_index

    server = build_index([Dist("temporary", "1.0")])
    root = server.root
    assert (root / "files" / "temporary" / "temporary-1.0.tar.gz").is_file()
    server.stop()
    assert not root.exists()


def test_same_name_twice_never_shares_files(package_index):
    first = package_index([Dist("twin", "1.0", requires_dist=("a",))], name="same")
    second = package_index([Dist("twin", "1.0", requires_dist=("b",))], name="same")
    filename = "twin-1.0-py3-none-any.whl"
    assert first.root != second.root
    assert first.files[filename].sha256 != second.files[filename].sha256
    assert b"Requires-Dist: a\n" in fetch(first.file_url(filename) + ".metadata").body
    assert b"Requires-Dist: b\n" in fetch(second.file_url(filename) + ".metadata").body


def test_basic_auth_protects_pages_and_files(package_index):
    import base64

    server = package_index([Dist("private-lib", "1.0")], basic_auth=("deploy-bot", "s3cret-pass"))
    denied = fetch(server.project_url("private-lib"))
    assert denied.status == 401 and "Basic" in denied.headers["WWW-Authenticate"]
    wrong = base64.b64encode(b"deploy-bot:nope").decode()
    assert fetch(server.project_url("private-lib"), headers={"Authorization": f"Basic {wrong}"}).status == 401
    right = {"Authorization": "Basic " + base64.b64encode(b"deploy-bot:s3cret-pass").decode()}
    assert fetch(server.project_url("private-lib"), headers=right).status == 200
    assert fetch(server.file_url("private_lib-1.0-py3-none-any.whl"), headers=right).status == 200
    assert fetch(server.file_url("private_lib-1.0-py3-none-any.whl")).status == 401


def test_wheels_built_elsewhere_are_served_with_their_metadata(package_index, tmp_path):
    built = package_index([Dist("outside", "2.0")], name="builder")
    wheel = built.files["outside-2.0-py3-none-any.whl"].path
    server = package_index([Dist("inside", "1.0")], name="serving")
    server.add_wheel_files([wheel])
    assert "outside" in server.projects()
    assert fetch(server.file_url(wheel.name)).body == wheel.read_bytes()
    assert b"Name: outside" in fetch(server.file_url(wheel.name) + ".metadata").body

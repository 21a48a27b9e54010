"""Index access through an HTTP proxy named by http_proxy / pip's proxy setting, and no_proxy."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from adviser.index import IndexClient, IndexSource
from tests.support.index_server import Dist


class ForwardProxy(ThreadingHTTPServer):
    """A plain forward proxy for http:// URLs (absolute-form requests), recording what it relays."""

    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ForwardProxy

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        target = urlsplit(self.path)
        self.server.seen.append((self.path, self.headers.get("Range")))
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")
        }
        upstream.request("GET", target.path + (f"?{target.query}" if target.query else ""), headers=headers)
        answer = upstream.getresponse()
        body = answer.read()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        upstream.close()


@pytest.fixture
def proxy(monkeypatch):
    for variable in (
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "no_proxy",
        "NO_PROXY",
        "PIP_PROXY",
    ):
        monkeypatch.delenv(variable, raising=False)
    server = ForwardProxy()
    yield server
    server.shutdown()
    server.server_close()


def read_all(source, cache_dir) -> None:
    with IndexClient([source], cache_dir) as client:
        page = client.project_page(source, "alpha")
        wheel = next(link for link in page.files if link.is_wheel)
        assert client.metadata(wheel).requires_dist == ("beta",)


@pytest.mark.parametrize("how", ["env", "pip"])
def test_requests_go_through_the_proxy(proxy, package_index, tmp_cache_dir, monkeypatch, how):
    server = package_index([Dist("alpha", "1.0", requires_dist=("beta",), metadata_file=False)])
    monkeypatch.setenv("http_proxy" if how == "env" else "PIP_PROXY", proxy.url)
    read_all(IndexSource("main", server.url), tmp_cache_dir)
    paths = [urlsplit(url).path for url, _range in proxy.seen]
    assert paths == [r.path for r in server.requests]
    assert paths[0] == "/simple/alpha/" and any(rng for _url, rng in proxy.seen)


def test_no_proxy_bypasses_it(proxy, package_index, tmp_cache_dir, monkeypatch):
    server = package_index([Dist("alpha", "1.0", requires_dist=("beta",))])
    monkeypatch.setenv("http_proxy", proxy.url)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    read_all(IndexSource("main", server.url), tmp_cache_dir)
    assert proxy.seen == [] and server.requests

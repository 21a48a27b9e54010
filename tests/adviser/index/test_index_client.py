"""IndexClient against real local indexes (tests/support/index_server.py) over HTTP."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from packaging.version import Version

from adviser.index import (
    IndexClient,
    IndexSource,
    IndexUnreachable,
    MetadataUnavailable,
    PackageNotFound,
)
from tests.support.index_server import Dist


def source_of(server, name: str | None = None) -> IndexSource:
    return IndexSource(name=name or server.name, url=server.url)


def make_client(sources, cache_dir, **options) -> IndexClient:
    options.setdefault("timeout", 5.0)
    return IndexClient(list(sources), cache_dir, **options)


def file_requests(server) -> list:
    return [r for r in server.requests if r.path.startswith("/files/")]


def link_named(page, filename: str):
    return next(link for link in page.files if link.filename == filename)


# ---------------------------------------------------------------- pages


def comparable(link) -> tuple:
    # HTML pages carry no size or upload time (PEP 503); everything else must agree.
    return (
        link.filename,
        link.url,
        link.hashes,
        link.requires_python,
        link.yanked,
        link.yanked_reason,
        link.core_metadata,
    )


def test_json_and_html_only_indexes_give_identical_links(package_index, tmp_path):
    dists = [
        Dist("alpha", "1.0", requires_python=">=3.8,<4", yanked="broken build"),
        Dist("alpha", "1.1", metadata_file=False),
        Dist("alpha", "2.0", wheel_tags=("py3-none-any", "cp311-cp311-manylinux_2_17_x86_64")),
    ]
    json_index = package_index(dists, name="json")
    html_index = package_index(dists, name="html", json_api=False)
    with make_client([], tmp_path / "a") as client:
        json_page = client.project_page(source_of(json_index), "alpha")
    with make_client([], tmp_path / "b") as client:
        html_page = client.project_page(source_of(html_index), "alpha")
    assert len(json_page.files) == len(html_index.project_files("alpha")) == 7

    def relative(link, server):
        assert link.url.startswith(server.base_url + "/files/alpha/")
        return (link.url[len(server.base_url) :],) + comparable(link)[:1] + comparable(link)[2:]

    assert sorted(relative(link, json_index) for link in json_page.files) == sorted(
        relative(link, html_index) for link in html_page.files
    )
    # The JSON form also carries size and upload time.
    assert all(link.size and link.upload_time for link in json_page.files)
    assert all(link.size is None and link.upload_time is None for link in html_page.files)


@pytest.mark.parametrize("json_api", [True, False], ids=["json", "html"])
def test_page_fields_yanked_requires_python_hashes_metadata(package_index, tmp_cache_dir, json_api):
    server = package_index(
        [
            Dist("beta", "1.0", requires_python=">=3.8,<4"),
            Dist("beta", "1.1", yanked="dispatch broken, use 1.0"),
            Dist("beta", "1.2", yanked=True, metadata_file=False),
        ],
        json_api=json_api,
    )
    with make_client([source_of(server)], tmp_cache_dir) as client:
        page = client.project_page(source_of(server), "Beta")  # any spelling of the name
    assert page.name == "beta"
    served = server.files
    by_name = {link.filename: link for link in page.files}
    assert set(by_name) == set(served)
    wheel_10 = by_name["beta-1.0-py3-none-any.whl"]
    assert wheel_10.requires_python == ">=3.8,<4"  # unescaped from data-requires-python in HTML
    assert wheel_10.hashes == {"sha256": served[wheel_10.filename].sha256}
    assert wheel_10.core_metadata == {"sha256": served[wheel_10.filename].built.metadata_sha256}
    assert wheel_10.url == server.file_url(wheel_10.filename)  # relative link resolved
    assert (wheel_10.is_wheel, wheel_10.is_sdist, wheel_10.project_name) == (True, False, "beta")
    assert str(next(iter(wheel_10.tags))) == "py3-none-any"
    sdist_11 = by_name["beta-1.1.tar.gz"]
    assert sdist_11.is_sdist and sdist_11.yanked and sdist_11.yanked_reason == "dispatch broken, use 1.0"
    assert sdist_11.core_metadata is False  # PEP 658 files are served for wheels only
    wheel_12 = by_name["beta-1.2-py3-none-any.whl"]
    assert wheel_12.yanked and wheel_12.yanked_reason is None and wheel_12.core_metadata is False
    assert sorted(page.versions()) == [Version("1.0"), Version("1.1"), Version("1.2")]


def test_unknown_project_is_package_not_found(package_index, tmp_cache_dir):
    server = package_index([Dist("gamma", "1.0")])
    with make_client([source_of(server)], tmp_cache_dir) as client:
        with pytest.raises(PackageNotFound) as caught:
            client.project_page(source_of(server), "no-such-project")
        with pytest.raises(PackageNotFound) as caught_all:
            client.project_pages("no-such-project")
    assert server.url in str(caught.value) and "no-such-project" in str(caught.value)
    assert caught_all.value.index_urls == [server.url]


def test_multiple_indexes_pages_in_source_order_skipping_404(package_index, tmp_cache_dir):
    first = package_index([Dist("shared", "1.0"), Dist("only-first", "1.0")], name="first")
    second = package_index([Dist("shared", "2.0")], name="second")
    sources = [source_of(first), source_of(second)]
    with make_client(sources, tmp_cache_dir) as client:
        pages = client.project_pages("shared")
        assert [page.index for page in pages] == sources
        assert [sorted(map(str, page.versions())) for page in pages] == [["1.0"], ["2.0"]]
        assert pages[1].files[0].index == sources[1]
        only = client.project_pages("only-first")
        assert [page.index for page in only] == [sources[0]]
        client.prefetch_pages(["shared", "only-first"])  # already known: no new requests
    assert [r.path for r in second.requests].count("/simple/shared/") == 1


# ---------------------------------------------------------------- metadata


def test_pep658_metadata_used_when_advertised_without_range_requests(package_index, tmp_cache_dir):
    server = package_index(
        [
            Dist(
                "delta",
                "1.0",
                requires_dist=("gamma>=1",),
                extras={"fast": ["speedup>=2"]},
                requires_python=">=3.9",
                classifiers=("Topic :: Utilities",),
            )
        ]
    )
    with make_client([source_of(server)], tmp_cache_dir) as client:
        page = client.project_page(source_of(server), "delta")
        metadata = client.metadata(link_named(page, "delta-1.0-py3-none-any.whl"))
    assert metadata.source == "pep658"
    assert (metadata.name, metadata.version) == ("delta", "1.0")
    assert metadata.requires_dist == ("gamma>=1", 'speedup>=2; extra == "fast"')
    assert metadata.provides_extra == ("fast",)
    assert metadata.requires_python == ">=3.9"
    assert metadata.classifiers == ("Topic :: Utilities",)
    files = file_requests(server)
    assert [r.path for r in files] == ["/files/delta/delta-1.0-py3-none-any.whl.metadata"]
    assert all(r.range is None for r in files)


@pytest.mark.parametrize("json_api", [True, False], ids=["json", "html"])
def test_wheel_metadata_read_with_range_requests_only(package_index, tmp_cache_dir, json_api):
    dist = Dist("epsilon", "3.0", requires_dist=("delta>=1,<2",), metadata_file=False, payload_bytes=300_000)
    server = package_index([dist], json_api=json_api)
    with make_client([source_of(server)], tmp_cache_dir) as client:
        page = client.project_page(source_of(server), "epsilon")
        wheel = link_named(page, "epsilon-3.0-py3-none-any.whl")
        metadata = client.metadata(wheel)
        assert client.stats()["range_requests"] >= 1
    assert metadata.source == "wheel-range" and metadata.requires_dist == ("delta>=1,<2",)
    files = file_requests(server)
    assert files, "the wheel was not read"
    assert all(r.method == "GET" and r.range and r.range.startswith("bytes=") for r in files), files
    assert not any(r.path.endswith(".metadata") for r in files)
    # Never the whole file: the ranges cover far less than the 300 kB payload.
    size = server.files[wheel.filename].size
    assert size > 300_000
    total = 0
    for r in files:
        spec = r.range.split("=", 1)[1]
        first, _, last = spec.partition("-")
        total += int(last) if not first else int(last) - int(first) + 1
    assert total < size / 2


def test_server_ignoring_ranges_small_wheel_is_read_from_whole_body(package_index, tmp_cache_dir):
    server = package_index(
        [Dist("zeta", "1.0", requires_dist=("alpha",), metadata_file=False)], range_requests=False
    )
    with make_client([source_of(server)], tmp_cache_dir) as client:
        page = client.project_page(source_of(server), "zeta")
        metadata = client.metadata(link_named(page, "zeta-1.0-py3-none-any.whl"))
    assert metadata.requires_dist == ("alpha",) and metadata.source == "wheel-range"


def test_server_ignoring_ranges_large_wheel_fails_with_reason(package_index, tmp_cache_dir):
    server = package_index(
        [Dist("eta", "1.0", metadata_file=False, payload_bytes=3_000_000)], range_requests=False
    )
    with make_client([source_of(server)], tmp_cache_dir) as client:
        page = client.project_page(source_of(server), "eta")
        with pytest.raises(MetadataUnavailable, match="ignores HTTP range requests"):
            client.metadata(link_named(page, "eta-1.0-py3-none-any.whl"))
    # Not remembered as a property of the file: a later client with ranges working succeeds.
    server.set_range_requests(True)
    with make_client([source_of(server)], tmp_cache_dir) as client:
        page = client.project_page(source_of(server), "eta")
        assert client.metadata(link_named(page, "eta-1.0-py3-none-any.whl")).version == "1.0"


def test_sdist_with_static_dependencies(package_index, tmp_cache_dir):
    server = package_index([Dist("theta", "1.0", requires_dist=("alpha>=1",), wheel=False)])
    with make_client([source_of(server)], tmp_cache_dir) as client:
        page = client.project_page(source_of(server), "theta")
        metadata = client.metadata(link_named(page, "theta-1.0.tar.gz"))
    assert metadata.source == "sdist" and metadata.requires_dist == ("alpha>=1",)


def test_sdist_with_dynamic_dependencies_is_unavailable(package_index, tmp_cache_dir):
    server = package_index([Dist("iota", "0.3", requires_dist=("alpha",), wheel=False, dynamic_deps=True)])
    with make_client([source_of(server)], tmp_cache_dir) as client:
        page = client.project_page(source_of(server), "iota")
        with pytest.raises(MetadataUnavailable) as caught:
            client.metadata(link_named(page, "iota-0.3.tar.gz"))
    assert "iota-0.3.tar.gz declares its dependencies dynamically" in caught.value.reason
    assert "without building it" in caught.value.reason


@pytest.mark.parametrize("broken", ["mismatch", "garbage"])
@pytest.mark.parametrize("metadata_file", [True, False], ids=["pep658", "range"])
def test_broken_metadata_is_unavailable(package_index, tmp_cache_dir, broken, metadata_file):
    server = package_index([Dist("kappa", "1.0", broken_metadata=broken, metadata_file=metadata_file)])
    with make_client([source_of(server)], tmp_cache_dir) as client:
        page = client.project_page(source_of(server), "kappa")
        with pytest.raises(MetadataUnavailable, match="kappa-1.0-py3-none-any.whl.* broken"):
            client.metadata(link_named(page, "kappa-1.0-py3-none-any.whl"))


def test_pep658_file_with_wrong_hash_falls_back_to_the_wheel(package_index, tmp_cache_dir):
    server = package_index([Dist("lambda-pkg", "1.0", requires_dist=("alpha",))])
    with make_client([source_of(server)], tmp_cache_dir, log=(lines := []).append) as client:
        page = client.project_page(source_of(server), "lambda-pkg")
        good = link_named(page, "lambda_pkg-1.0-py3-none-any.whl")
        # As if the page advertised a different metadata file than the one served (hashes dropped
        # so the cache key differs from the genuine link's).
        tampered = replace(good, core_metadata={"sha256": "0" * 64}, hashes={})
        metadata = client.metadata(tampered)
    assert metadata.source == "wheel-range" and metadata.requires_dist == ("alpha",)
    assert any("does not match its advertised sha256" in line for line in lines)


def test_concurrent_requests_for_one_page_and_file_fetch_once(package_index, tmp_cache_dir):
    server = package_index([Dist("mu", "1.0")], delay=0.2)
    source = source_of(server)
    with make_client([source], tmp_cache_dir, max_workers=8) as client, ThreadPoolExecutor(8) as pool:
        pages = list(pool.map(lambda name: client.project_page(source, name), ["mu", "MU", "Mu"] * 3))
        assert all(page.files == pages[0].files for page in pages)
        link = pages[0].files[0]
        results = list(pool.map(client.metadata, [link] * 8))
        assert all(result == results[0] for result in results)
    paths = [r.path for r in server.requests]
    assert paths.count("/simple/mu/") == 1
    assert len([p for p in paths if p.startswith("/files/")]) == 1


def test_the_next_analysis_reuses_the_connection_of_the_last(package_index, tmp_path):
    # A server's worker runs analysis after analysis: each keeps the index's connection alive.
    server = package_index([Dist("omicron", "1.0")])
    source = source_of(server)
    for run in ("first", "second", "third"):
        with make_client([source], tmp_path / run, force_refresh=True) as client:
            assert client.project_page(source, "omicron").files
    assert [r.path for r in server.requests].count("/simple/omicron/") == 3
    assert server.connections_accepted == 1


def test_prefetch_skips_what_the_cache_has(package_index, tmp_cache_dir):
    server = package_index([Dist("nu-pkg", "1.0"), Dist("xi-pkg", "1.0")])
    source = source_of(server)
    with make_client([source], tmp_cache_dir) as client:
        client.prefetch_pages(["nu-pkg"])
        client.prefetch_metadata(client.project_page(source, "nu-pkg").files)
    server.clear_requests()
    with make_client([source], tmp_cache_dir) as client:
        client.prefetch_pages(["nu-pkg", "xi-pkg"])
        client.prefetch_metadata(client.project_page(source, "nu-pkg").files)
        stats = client.stats()
    # Only the missing page was fetched in the pool; the cached one was not even decoded yet.
    assert [r.path for r in server.requests] == ["/simple/xi-pkg/"]
    assert stats.get("pages_cached", 0) == 1 and stats.get("metadata_cached", 0) == 0


# ---------------------------------------------------------------- failures


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_is_index_unreachable_naming_the_url(tmp_cache_dir):
    url = f"http://127.0.0.1:{free_port()}/simple/"
    source = IndexSource("down", url)
    with make_client([source], tmp_cache_dir) as client:
        with pytest.raises(IndexUnreachable) as caught:
            client.project_page(source, "anything")
    assert url in str(caught.value) and "refused" in str(caught.value)


def test_stopped_server_is_index_unreachable(package_index, tmp_cache_dir):
    server = package_index([Dist("nu", "1.0")])
    source = source_of(server)
    server.stop()
    with make_client([source], tmp_cache_dir) as client:
        with pytest.raises(IndexUnreachable, match=server.url):
            client.project_pages("nu")


def test_http_500_is_index_unreachable_at_once(package_index, tmp_cache_dir):
    server = package_index([Dist("xi", "1.0")], fail_status=500)
    with make_client([source_of(server)], tmp_cache_dir) as client:
        with pytest.raises(IndexUnreachable, match="HTTP 500"):
            client.project_page(source_of(server), "xi")
    assert len(server.requests) == 1


def test_http_503_is_retried_then_index_unreachable(package_index, tmp_cache_dir):
    server = package_index([Dist("omicron", "1.0")], fail_status=503)
    with make_client([source_of(server)], tmp_cache_dir) as client:
        with pytest.raises(IndexUnreachable) as caught:
            client.project_page(source_of(server), "omicron")
    assert server.url in str(caught.value) and "HTTP 503" in str(caught.value)
    assert len(server.requests) == 3  # the first try and two retries


def test_503_recovering_during_retries_succeeds(package_index, tmp_cache_dir):
    server = package_index([Dist("pi", "1.0")], fail_status=503)
    with make_client([source_of(server)], tmp_cache_dir) as client:
        # The retry budget is small; this test only checks a page read after recovery works.
        with pytest.raises(IndexUnreachable):
            client.project_page(source_of(server), "pi")
    server.set_fail_status(None)
    with make_client([source_of(server)], tmp_cache_dir) as client:
        assert client.project_page(source_of(server), "pi").files


def test_slow_index_times_out(package_index, tmp_cache_dir):
    server = package_index([Dist("rho", "1.0")], delay=2.0)
    with make_client([source_of(server)], tmp_cache_dir, timeout=0.3) as client:
        with pytest.raises(IndexUnreachable) as caught:
            client.project_page(source_of(server), "rho")
    assert server.url in str(caught.value) and "timeout" in str(caught.value)


# ---------------------------------------------------------------- unreachable indexes fail fast


@pytest.fixture
def connect_attempts(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every TCP connection urllib3 opens (the real function still runs)."""
    import urllib3.util.connection

    attempts: list = []
    real = urllib3.util.connection.create_connection

    def counted(address, *args, **kwargs):  # type: ignore[no-untyped-def]
        attempts.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", counted)
    return attempts


@pytest.fixture
def slow_resolver(monkeypatch: pytest.MonkeyPatch) -> list:
    """A resolver that takes 0.5 s to answer for names under the reserved .invalid TLD (RFC 2606),
    as one that waits for an upstream server does; the real lookup still gives the answer."""
    import time

    lookups: list = []
    real = socket.getaddrinfo

    def slow(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(host, str) and host.endswith(".invalid"):
            lookups.append(host)
            time.sleep(0.5)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    return lookups


def test_connection_refused_is_not_retried(tmp_cache_dir, connect_attempts):
    url = f"http://127.0.0.1:{free_port()}/simple/"
    source = IndexSource("down", url)
    with make_client([source], tmp_cache_dir) as client:
        with pytest.raises(IndexUnreachable, match="connection refused"):
            client.project_page(source, "anything")
    assert len(connect_attempts) == 1


def test_unresolvable_index_host_fails_in_moments_naming_it(tmp_cache_dir, slow_resolver):
    import time

    url = "http://no-such-index-host.invalid/simple/"
    source = IndexSource("alias", url)
    started = time.monotonic()
    with make_client([source], tmp_cache_dir) as client:
        client.prefetch_pages(["alpha", "beta", "gamma", "delta"], [source])
        for name in ("alpha", "beta", "gamma", "delta"):
            with pytest.raises(IndexUnreachable) as caught:
                client.project_page(source, name)
            assert url in str(caught.value)
            assert "host name no-such-index-host.invalid could not be resolved" in str(caught.value)
    # One lookup for the host (the name does not exist: no retry), every other page answered from
    # the remembered failure; before, each page made six lookups (three tries, two lookups each).
    assert slow_resolver == ["no-such-index-host.invalid"]
    assert time.monotonic() - started < 3

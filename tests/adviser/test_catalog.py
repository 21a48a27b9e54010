"""Read-only package information answered from the index cache (no HTTP)."""

from __future__ import annotations

from adviser import catalog
from adviser.index import IndexClient, IndexSource
from tests.support.index_server import Dist

DISTS = [
    Dist("Alpha", "1.0", requires_dist=("beta>=1",), extras={"x": ["gamma"]}),
    Dist("alpha", "2.0", requires_dist=("beta>=2",), wheel_tags=("cp311-cp311-manylinux_2_17_x86_64",)),
    Dist("beta", "1.0", metadata_file=False, import_name="beta_mod"),
    Dist("beta", "2.0", metadata_file=False, import_name="beta_mod", wheel_tags=("py3-none-win_amd64",)),
]


def fill_cache(server, cache_dir) -> str:
    source = IndexSource("main", server.url)
    with IndexClient([source], cache_dir) as client:
        for name in ("alpha", "beta"):
            for link in client.project_page(source, name).files:
                if link.is_wheel:
                    client.metadata(link)
    return server.url


def test_catalog_answers_from_what_resolutions_cached(package_index, tmp_cache_dir):
    server = package_index(DISTS)
    url = fill_cache(server, tmp_cache_dir)
    server.clear_requests()

    assert catalog.package_versions(tmp_cache_dir, "ALPHA") == [("alpha", "1.0", url), ("alpha", "2.0", url)]
    assert catalog.package_dependencies(tmp_cache_dir, "alpha", "1.0") == [
        {"requirement": "beta>=1", "index_url": url},
        {"requirement": 'gamma; extra == "x"', "index_url": url},
    ]
    assert catalog.package_dependencies(tmp_cache_dir, "alpha", "2.0", index_url=url) == [
        {"requirement": "beta>=2", "index_url": url}
    ]
    assert (
        catalog.package_dependencies(tmp_cache_dir, "alpha", "1.0", index_url="http://127.0.0.1:1/x/") == []
    )
    assert catalog.package_platforms(tmp_cache_dir) == ["any", "manylinux_2_17_x86_64", "win_amd64"]
    # Import names come from wheels whose central directory was read (range reads, no PEP 658).
    assert catalog.packages_providing_import(tmp_cache_dir, "beta_mod.sub") == [
        ("beta", "1.0", url),
        ("beta", "2.0", url),
    ]
    assert catalog.packages_providing_import(tmp_cache_dir, "nothing_like_it") == []
    assert server.requests == []


def test_empty_or_missing_cache_knows_nothing(tmp_path):
    missing = tmp_path / "never-created"
    assert catalog.package_versions(missing, "alpha") == []
    assert catalog.package_dependencies(missing, "alpha", "1.0") == []
    assert catalog.package_platforms(missing) == []
    assert catalog.packages_providing_import(missing, "alpha") == []
    assert not missing.exists()

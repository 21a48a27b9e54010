"""Which indexes packages may come from: index adjustment, [thoth] disable_index_adjustment and
per-package index pins."""

from adviser.index import IndexSource
from tests.adviser.engine_support import locked_versions, messages, pipfile, product, run
from tests.support.index_server import Dist


def test_per_package_index_with_adjustment_disabled(package_index, tmp_cache_dir):
    main = package_index([Dist("tool", "1.0", requires_dist=("helper",)), Dist("helper", "1.0")], name="main")
    special = package_index([Dist("tool", "2.0", requires_dist=("helper",))], name="special")
    text = pipfile(
        [("main", main.url), ("special", special.url)],
        'tool = {version = "*", index = "special"}',
        extra="[thoth]\ndisable_index_adjustment = true\n",
    )
    document = run(text, tmp_cache_dir)
    lock = product(document)["project"]["requirements_locked"]
    assert locked_versions(document) == {"tool": "2.0", "helper": "1.0"}
    assert lock["default"]["tool"]["index"] == "special"
    assert lock["default"]["helper"]["index"] == "main"
    assert {s["name"] for s in lock["_meta"]["sources"]} == {"main", "special"}
    assert any("disable_index_adjustment" in m for m in messages(document, where="stack_info"))
    # the pin restricts tool to special: main's page of tool is never asked for
    assert not any(path.rstrip("/").endswith("/simple/tool") for _m, path, _r in main.requests)


def test_pinned_index_without_the_package_fails_naming_both(package_index, tmp_cache_dir):
    main = package_index([Dist("tool", "1.0")], name="main")
    special = package_index([Dist("other", "1.0")], name="special")
    text = pipfile(
        [("main", main.url), ("special", special.url)],
        'tool = {version = "*", index = "special"}',
        extra="[thoth]\ndisable_index_adjustment = true\n",
    )
    document = run(text, tmp_cache_dir)
    assert document["error"] is True
    assert "tool" in document["error_msg"] and "special" in document["error_msg"]


def test_index_adjustment_uses_known_indexes_unless_disabled(package_index, tmp_cache_dir):
    main = package_index([Dist("app", "1.0", requires_dist=("rare",))], name="main")
    known = package_index([Dist("rare", "1.0")], name="known")
    settings = {"known_indexes": [IndexSource("known", known.url, False)]}
    text = pipfile([("main", main.url)], 'app = "*"')
    document = run(text, tmp_cache_dir, settings=settings)
    lock = product(document)["project"]["requirements_locked"]
    assert lock["default"]["rare"]["index"] == "known"
    assert [s["name"] for s in lock["_meta"]["sources"]] == ["main", "known"]
    assert product(document)["project"]["requirements"]["source"][-1]["name"] == "known"
    assert any("known" in m and "rare" in m for m in messages(document))
    strict = run(text + "\n[thoth]\ndisable_index_adjustment = true\n", tmp_cache_dir, settings=settings)
    assert strict["error"] is True
    assert "rare" in strict["error_msg"] and "not found on main" in strict["error_msg"]


def test_source_redirecting_to_a_known_index_is_read_as_that_index(package_index, tmp_cache_dir):
    canonical = package_index([Dist("app", "1.0", requires_dist=("helper",)), Dist("helper", "1.0")], name="canon")
    alias = package_index([], name="alias")
    alias.set_redirect(canonical.url)  # an alias host of the index: every page answers 301 to it
    source = IndexSource("canonical", canonical.url, False)
    settings = {"default_index": source, "known_indexes": [source]}
    document = run(pipfile([("mirror", alias.url)], 'app = "*"'), tmp_cache_dir, settings=settings)
    lock = product(document)["project"]["requirements_locked"]
    assert locked_versions(document) == {"app": "1.0", "helper": "1.0"}
    assert {entry["index"] for entry in lock["default"].values()} == {"mirror"}  # the user's source name
    assert lock["_meta"]["sources"] == [{"name": "mirror", "url": alias.url, "verify_ssl": False}]
    note = f"Index mirror ({alias.url}) redirects to {canonical.url}: treated as the same index"
    assert note in messages(document, "INFO", where="stack_info")
    # Only the first page went through the alias; files and later pages come from the known index,
    # read once for both sources.
    assert [path for _m, path, _r in alias.requests] == ["/simple/app/"]
    helper_pages = [path for _m, path, _r in canonical.requests if path == "/simple/helper/"]
    assert helper_pages == ["/simple/helper/"]


def test_declared_alias_is_never_contacted(package_index, tmp_cache_dir):
    canonical = package_index([Dist("app", "1.0")], name="canon")
    unreachable = "http://old-name-of-the-index.invalid/simple/"  # RFC 2606: never resolves
    source = IndexSource("canonical", canonical.url, False)
    settings = {
        "default_index": source,
        "known_indexes": [source],
        "index_aliases": f"{unreachable}={canonical.url}",
    }
    document = run(pipfile([("legacy", unreachable)], 'app = "*"'), tmp_cache_dir, settings=settings)
    lock = product(document)["project"]["requirements_locked"]
    assert lock["default"]["app"]["index"] == "legacy"
    assert [s["url"] for s in lock["_meta"]["sources"]] == [unreachable]
    stack_info = messages(document, "INFO", where="stack_info")
    assert f"Index legacy ({unreachable}) is declared an alias of {canonical.url}: treated as the same index" in (
        stack_info
    )
    consulted = next(m for m in stack_info if m.startswith("Indexes consulted"))
    assert canonical.url not in consulted  # the same index is not consulted twice
    assert [path for _m, path, _r in canonical.requests if path.startswith("/simple/")] == ["/simple/app/"]


def test_unresolvable_source_fails_in_moments_naming_it(tmp_cache_dir):
    import time

    url = "http://no-such-mirror.invalid/simple/"
    started = time.monotonic()
    document = run(pipfile([("mirror", url)], 'app = "*"\nlib = "*"\ntool = "*"'), tmp_cache_dir)
    assert time.monotonic() - started < 5
    assert document["error"] is True
    assert url in document["error_msg"]
    assert "host name no-such-mirror.invalid could not be resolved" in document["error_msg"]


def test_a_known_index_never_supplies_a_package_the_projects_sources_have(package_index, tmp_cache_dir):
    # Dependency confusion: a secondary index offers a newer "six" than the project's own index.
    main = package_index([Dist("app", "1.0", requires_dist=("six", "rare")), Dist("six", "1.17.0")], name="main")
    known = package_index([Dist("six", "1.99.0"), Dist("rare", "1.0")], name="known")
    settings = {"known_indexes": [IndexSource("known", known.url, False)]}
    document = run(pipfile([("main", main.url)], 'app = "*"'), tmp_cache_dir, settings=settings)
    lock = product(document)["project"]["requirements_locked"]["default"]
    assert locked_versions(document) == {"app": "1.0", "six": "1.17.0", "rare": "1.0"}
    assert lock["six"]["index"] == "main" and lock["rare"]["index"] == "known"
    warnings = messages(document, "WARNING")
    assert f"rare 1.0 taken from index known ({known.url}) known to the backend: the project's sources do not " \
           "provide it" in warnings
    assert not any("six" in m for m in warnings)

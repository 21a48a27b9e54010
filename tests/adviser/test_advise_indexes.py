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

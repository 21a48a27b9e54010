"""Security with no set-up: the advisory snapshot shipped in the package, its date and its notes."""

from datetime import date

import pytest

from adviser.advisories import EMPTY, STALE_DAYS, load_advisories, shipped_advisories, snapshot_notes
from adviser.advisory_bundle import SHIPPED
from tests.adviser.engine_support import locked_versions, messages, pipfile, run
from tests.support.index_server import Dist

FLASK_WERKZEUG = 'flask = ">=2.2.5,<2.3.2"\nwerkzeug = ">=2.3.8,<3.0.1"'


@pytest.fixture
def flask_index(package_index):
    """Releases named like the real ones, so that the shipped snapshot's real advisories apply."""
    return package_index(
        [
            Dist("flask", "2.2.5", requires_dist=("werkzeug>=2.2.2",)),
            Dist("flask", "2.3.0", requires_dist=("werkzeug>=2.3.0",)),
            Dist("flask", "2.3.1", requires_dist=("werkzeug>=2.3.0",)),
            Dist("flask", "2.3.2", requires_dist=("werkzeug>=2.3.3",)),
            Dist("werkzeug", "2.3.8"),
            Dist("werkzeug", "3.0.0"),
            Dist("werkzeug", "3.0.1"),
        ]
    )


def test_the_shipped_snapshot_carries_its_attribution_and_date():
    assert SHIPPED.is_file() and SHIPPED.stat().st_size < 1024 * 1024
    assert "Attribution 4.0" in SHIPPED.with_name("pypa-advisory-db.LICENSE").read_text()
    assert "2024-10-10" in SHIPPED.with_name("pypa-advisory-db.NOTICE").read_text()
    database = load_advisories(None, None)
    assert database is shipped_advisories()  # one open copy per process
    assert database.date == "2024-10-10" and database.count > 2000 and database.packages > 600
    assert "PyPA advisory database of 2024-10-10" in database.describe()


def test_security_avoids_flask_and_werkzeug_advisories_with_no_configuration(flask_index, tmp_cache_dir):
    document = run(pipfile([("main", flask_index.url)], FLASK_WERKZEUG), tmp_cache_dir,
                   recommendation_type="security")
    assert locked_versions(document) == {"flask": "2.2.5", "werkzeug": "2.3.8"}
    notes = messages(document, "INFO")
    assert "werkzeug 3.0.0 skipped: PYSEC-2023-221, fixed in 3.0.1" in notes
    assert "flask 2.3.1 skipped: PYSEC-2023-62, fixed in 2.3.2" in notes
    info = " ".join(messages(document, where="stack_info"))
    assert "PyPA advisory database of 2024-10-10" in info
    assert "PyPA advisory database of 2024-10-10" in document["report"]["pipeline"]["advisory_snapshot"]


def test_security_names_the_advisory_and_the_constraint_that_keep_an_affected_version(
    flask_index, tmp_cache_dir
):
    document = run(pipfile([("main", flask_index.url)], 'werkzeug = "==3.0.0"'), tmp_cache_dir,
                   recommendation_type="security")
    assert locked_versions(document) == {"werkzeug": "3.0.0"}
    errors = messages(document, "ERROR")
    assert any(
        "werkzeug 3.0.0 kept although PYSEC-2023-221 affects it" in m
        and "the fix (3.0.1) is excluded by werkzeug==3.0.0 (from the application)" in m
        for m in errors
    ), errors


def test_no_advisory_data_is_a_warning_under_security(flask_index, tmp_cache_dir):
    document = run(pipfile([("main", flask_index.url)], FLASK_WERKZEUG), tmp_cache_dir,
                   recommendation_type="security", settings={"advisory_db": "none"})
    warnings = messages(document, "WARNING", where="stack_info")
    assert any("No advisory data" in m for m in warnings), warnings
    latest = run(pipfile([("main", flask_index.url)], FLASK_WERKZEUG), tmp_cache_dir,
                 settings={"advisory_db": "none"})
    assert not any("advisory" in m.lower() for m in messages(latest, "WARNING", where="stack_info"))


def test_stale_data_is_a_warning_and_fresh_data_is_not():
    database = shipped_advisories()
    stale = snapshot_notes(database, True)
    assert [level for level, _ in stale] == ["INFO", "WARNING"]
    assert "days old (snapshot of 2024-10-10)" in stale[1][1]
    assert database.age_days(date(2024, 10, 10 + 5)) == 5
    assert snapshot_notes(EMPTY, False) == [("INFO", "No advisory database configured")]
    assert STALE_DAYS == 30


def test_a_bundle_is_read_per_package():
    from adviser.advisory_bundle import Bundle

    bundle = Bundle(SHIPPED)
    assert "werkzeug" in bundle.members and bundle.records("not-a-package") == []
    assert {r["id"] for r in bundle.records("Werkzeug")} >= {"PYSEC-2023-221"}

"""Lock comparison (``thamos diff``) and secret redaction (``thamos support``)."""

from __future__ import annotations

from stackfiles.lock_diff import lock_differences, packages_of_lock, packages_of_requirements_txt
from thamos.redact import redact_secrets

LOCK = {
    "default": {
        "Flask": {"version": "==2.3.0", "hashes": ["sha256:aa"], "index": "main"},
        "click": {"version": "==8.1.0", "hashes": ["sha256:bb"], "index": "main"},
    },
    "develop": {"pytest": {"version": "==8.0.0", "hashes": ["sha256:cc"], "index": "main"}},
}


def test_identical_locks_have_no_differences() -> None:
    assert lock_differences(packages_of_lock(LOCK), packages_of_lock(LOCK)) == []


def test_every_kind_of_difference_is_reported() -> None:
    advised = {
        "default": {
            "flask": {"version": "==2.2.0", "hashes": ["sha256:aa"], "index": "main"},
            "click": {"version": "==8.1.0", "hashes": ["sha256:dd"], "index": "main"},
            "itsdangerous": {"version": "==2.1.0", "hashes": ["sha256:ee"], "index": "main"},
        },
        "develop": {"pytest": {"version": "==8.0.0", "hashes": ["sha256:cc"], "index": "mirror"}},
    }
    rows = {row["package"]: row for row in lock_differences(packages_of_lock(LOCK), packages_of_lock(advised))}
    assert rows["flask"]["change"] == "downgraded" and rows["flask"]["current"] == "2.3.0"
    assert rows["click"]["change"] == "hashes"
    assert rows["itsdangerous"]["change"] == "added"
    assert rows["pytest"]["change"] == "index main -> mirror"
    assert set(rows) == {"flask", "click", "itsdangerous", "pytest"}


def test_requirements_txt_side() -> None:
    text = (
        "--index-url http://127.0.0.1:1/simple/\n"
        "flask==2.3.0 \\\n    --hash=sha256:aa\n"
        "click[extra]==8.1.0; python_version >= '3.8' \\\n    --hash=sha256:bb\n"
        "# a comment\nunpinned>=1\n"
    )
    packages = packages_of_requirements_txt(text)
    assert set(packages) == {"flask", "click"}
    assert packages["click"]["version"] == "8.1.0" and packages["flask"]["hashes"] == ["sha256:aa"]
    current = packages_of_lock({"default": {k: v for k, v in LOCK["default"].items()}})
    for row in lock_differences(current, packages):
        assert row["change"] not in ("added", "removed", "upgraded", "downgraded")


def test_redaction_hides_tokens_passwords_and_url_credentials() -> None:
    data = {
        "host": "https://alice:pa55@thoth.example.com/api",
        "token": "abc",
        "nested": [{"THAMOS_TOKEN": "def", "api_key": "ghi", "name": "visible"}],
        "empty_token": None,
    }
    redacted = redact_secrets(data)
    text = repr(redacted)
    for secret in ("pa55", "alice", "abc", "def", "ghi"):
        assert secret not in text
    assert redacted["nested"][0]["name"] == "visible" and redacted["empty_token"] is None
    assert redacted["host"] == "https://***@thoth.example.com/api"
    # Any scheme: the database URL a team's settings name in `thamos support` output too.
    assert redact_secrets({"THAMOS_DATABASE_URL": "postgresql://thoth:dbS3cret@db/thoth"}) == {
        "THAMOS_DATABASE_URL": "postgresql://***@db/thoth"
    }

"""An added [[source]] goes after the last source's keys: a comment that opens [packages] stays
with [packages] (render_pipfile for an advised Pipfile, append_source for `thamos add -i`)."""

from __future__ import annotations

from stackfiles.pipfile import read_pipfile, render_pipfile

USER_PIPFILE = """\
[[source]]
url = "http://127.0.0.1:9/simple/"
name = "local"
verify_ssl = false

# the application's packages
# (keep sorted)
[packages]
flask = "*"
"""


def test_a_comment_of_packages_stays_above_packages() -> None:
    advised = read_pipfile(USER_PIPFILE, "Pipfile")
    advised["source"].append({"url": "http://127.0.0.1:8/simple/", "name": "other", "verify_ssl": False})
    text = render_pipfile(advised, USER_PIPFILE)
    assert text == (
        '[[source]]\nurl = "http://127.0.0.1:9/simple/"\nname = "local"\nverify_ssl = false\n\n'
        '[[source]]\nurl = "http://127.0.0.1:8/simple/"\nname = "other"\nverify_ssl = false\n\n'
        "# the application's packages\n# (keep sorted)\n[packages]\nflask = \"*\"\n"
    )
    assert read_pipfile(text, "Pipfile") == advised


def test_without_a_trailing_comment_a_blank_line_separates() -> None:
    plain = USER_PIPFILE.replace("# the application's packages\n# (keep sorted)\n", "")
    advised = read_pipfile(plain, "Pipfile")
    advised["source"].append({"url": "http://127.0.0.1:8/simple/", "name": "other", "verify_ssl": False})
    text = render_pipfile(advised, plain)
    assert 'name = "other"\nverify_ssl = false\n\n[packages]' in text
    assert read_pipfile(text, "Pipfile") == advised

"""Which indexes pip's configuration points to: PIP_INDEX_URL, pip.conf files, pip's own default."""

from __future__ import annotations

from pathlib import Path

import pytest

from adviser.index import IndexClient, default_index_source, extra_index_sources
from adviser.index import sources as sources_module
from tests.support.index_server import Dist


@pytest.fixture(autouse=True)
def isolated_pip_config(monkeypatch, tmp_path):
    """No pip settings from this machine: empty home, XDG dirs and system file; no PIP_* variables."""
    for variable in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONFIG_FILE", "PIP_TRUSTED_HOST"):
        monkeypatch.delenv(variable, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "xdg"))
    monkeypatch.setattr(sources_module, "SYSTEM_PIP_CONFIG", tmp_path / "etc-pip.conf")
    return home


def pip_default() -> str:
    from pip._internal.models.index import PyPI

    return PyPI.simple_url


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_pips_own_default_is_named_pypi():
    source = default_index_source()
    assert source.url == pip_default() and source.name == "pypi" and source.verify_ssl


def test_pip_index_url_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:8123/simple/")
    write(tmp_path / "xdg" / "pip" / "pip.conf", "[global]\nindex-url = http://127.0.0.1:9999/simple/\n")
    source = default_index_source()
    assert source.url == "http://127.0.0.1:8123/simple/"
    assert source.name == "127-0-0-1-8123"


def test_non_http_index_url_is_ignored_with_a_reason(monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "file:///srv/wheels/simple")
    lines: list[str] = []
    assert default_index_source(log=lines.append).url == pip_default()
    assert lines == ["index: ignoring index-url 'file:///srv/wheels/simple': only http(s) indexes are used"]


def test_pip_config_file_install_section_beats_global(monkeypatch, tmp_path):
    config = write(
        tmp_path / "custom.conf",
        "[global]\nindex-url = http://127.0.0.1:1111/simple\n[install]\nindex-url = http://127.0.0.1:2222/simple\n",
    )
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    assert default_index_source().url == "http://127.0.0.1:2222/simple"


def test_user_config_is_read_and_dev_null_disables_every_file(monkeypatch, isolated_pip_config):
    write(
        isolated_pip_config / ".config" / "pip" / "pip.conf",
        "[global]\nindex-url = https://127.0.0.1:3333/x\n",
    )
    assert default_index_source().url == "https://127.0.0.1:3333/x"
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    assert default_index_source().url == pip_default()


def test_later_files_override_earlier_ones(isolated_pip_config, tmp_path):
    write(tmp_path / "xdg" / "pip" / "pip.conf", "[global]\nindex-url = http://127.0.0.1:1/simple\n")
    write(tmp_path / "etc-pip.conf", "[global]\nindex-url = http://127.0.0.1:2/simple\n")
    assert default_index_source().url == "http://127.0.0.1:2/simple"
    write(isolated_pip_config / ".pip" / "pip.conf", "[global]\nindex-url = http://127.0.0.1:3/simple\n")
    assert default_index_source().url == "http://127.0.0.1:3/simple"


def test_extra_indexes_keep_http_ones_with_unique_names(monkeypatch):
    monkeypatch.setenv(
        "PIP_EXTRA_INDEX_URL",
        "file:///opt/local/simple http://127.0.0.1:5000/a/ http://127.0.0.1:5000/b/ http://127.0.0.1:5000/a/",
    )
    monkeypatch.setenv("PIP_TRUSTED_HOST", "127.0.0.1:5000")
    lines: list[str] = []
    extras = extra_index_sources(log=lines.append)
    assert [(s.name, s.url, s.verify_ssl) for s in extras] == [
        ("127-0-0-1-5000", "http://127.0.0.1:5000/a/", False),
        ("127-0-0-1-5000-2", "http://127.0.0.1:5000/b/", False),
    ]
    assert any("file:///opt/local/simple" in line for line in lines)


def test_configured_index_is_the_one_read(monkeypatch, package_index, tmp_cache_dir):
    server = package_index([Dist("alpha", "1.0")])
    monkeypatch.setenv("PIP_INDEX_URL", server.url)
    source = default_index_source()
    with IndexClient([source], tmp_cache_dir) as client:
        assert [page.index.url for page in client.project_pages("alpha")] == [server.url]
    assert [r.path for r in server.requests] == ["/simple/alpha/"]

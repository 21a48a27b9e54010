"""A real installer against the test index: pip resolves, downloads and installs into a fresh venv.

The venv is created without pip (fast); the test interpreter's own pip installs into it through
``pip --python``. The machine's pip configuration (config files, PIP_* variables such as
find-links or extra index URLs) is shut out so that only the test index is consulted.
"""

from __future__ import annotations

import email.parser
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.index_server import Dist


def _isolated_pip_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PIP_", "UV_"))}
    env["PIP_CONFIG_FILE"] = os.devnull  # ignore every pip.conf (global, user, site)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env.pop("PYTHONPATH", None)
    return env


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pip", *args]
    result = subprocess.run(command, env=_isolated_pip_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def fresh_venv(tmp_path: Path) -> Path:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    return venv / "bin" / "python"


def _installed_versions(python: Path, modules: list[str]) -> dict[str, str]:
    code = (
        "import importlib, sys\nfor m in sys.argv[1:]:\n    print(m, importlib.import_module(m).__version__)"
    )
    result = subprocess.run(
        [str(python), "-c", code, *modules],
        env=_isolated_pip_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return dict(line.split(" ", 1) for line in result.stdout.splitlines())


def test_pip_installs_a_dependency_graph_from_the_json_api(sample_index, fresh_venv):
    seen_before = len(sample_index.requests)  # the sample index is shared: look at this test's requests only
    _pip(
        "--python",
        str(fresh_venv),
        "install",
        "--index-url",
        sample_index.url,
        "--no-cache-dir",
        "webapp-framework[async]==2.1",
    )
    versions = _installed_versions(
        fresh_venv, ["webapp_framework", "templating", "signals", "http_client", "socks_lib", "markup_escape"]
    )
    assert versions["webapp_framework"] == "2.1"
    assert versions["templating"] == "3.0"  # 3.1rc1 is a pre-release, not chosen without --pre
    assert versions["signals"] == "1.1"  # 1.2 is yanked
    # http-client 1.2 requires Python >= 3.12
    assert versions["http_client"] == ("1.2" if sys.version_info >= (3, 12) else "1.1")
    assert versions["socks_lib"] == "1.1"  # pulled in by the [async] -> [socks] extras chain
    paths = [record.path for record in sample_index.requests[seen_before:]]
    assert "/files/webapp-framework/webapp_framework-2.1-py3-none-any.whl.metadata" in paths  # PEP 658 used


def test_pip_installs_from_an_html_only_index_without_ranges(package_index, fresh_venv):
    server = package_index(
        [
            Dist("Html_Only.App", "1.0", requires_dist=("helper-lib>=2",), metadata_file=False),
            Dist("helper-lib", "1.0"),
            Dist("helper-lib", "2.0"),
            Dist("helper-lib", "2.5", requires_python="<3.0"),
        ],
        json_api=False,
        range_requests=False,
    )
    _pip("--python", str(fresh_venv), "install", "--index-url", server.url, "--no-cache-dir", "html-only-app")
    versions = _installed_versions(fresh_venv, ["html_only_app", "helper_lib"])
    assert versions == {"html_only_app": "1.0", "helper_lib": "2.0"}  # 2.5 excluded by requires-python


def test_sdists_build_with_their_declared_metadata(package_index, tmp_path):
    """The sdists' pyproject.toml / setup.cfg are real: setuptools builds wheels with the same metadata."""
    server = package_index(
        [
            Dist(
                "static-one", "1.0", requires_dist=("signals>=1",), extras={"x": ["extra-lib"]}, wheel=False
            ),
            Dist(
                "dynamic-one",
                "0.3",
                requires_dist=("signals>=1",),
                extras={"x": ["extra-lib"]},
                dynamic_deps=True,
            ),
        ]
    )
    out = tmp_path / "wheels"
    sdists = [str(served.path) for served in server.files.values() if served.filename.endswith(".tar.gz")]
    _pip(
        "wheel", "--no-build-isolation", "--no-deps", "--no-index", "--no-cache-dir", "-w", str(out), *sdists
    )
    for name, version in (("static_one", "1.0"), ("dynamic_one", "0.3")):
        with zipfile.ZipFile(out / f"{name}-{version}-py3-none-any.whl") as wheel:
            metadata = email.parser.Parser().parsestr(
                wheel.read(f"{name}-{version}.dist-info/METADATA").decode()
            )
            assert f"{name}/__init__.py" in wheel.namelist()
        assert metadata.get_all("Requires-Dist") == ["signals>=1", 'extra-lib; extra == "x"']
        assert metadata.get_all("Provides-Extra") == ["x"]

"""The container image filters thamos 1.x sends (package_name, rpm_package_name, library_name,
symbol) are honoured: they match what the catalogue lists an image to ship."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from userapi.listings import container_images, load_container_images
from userapi.settings import SettingsError

CATALOGUE = """\
- {environment_name: ubi, os_name: rhel, os_version: "9", python_version: "3.11", image_name: ubi9-python,
   python_packages: [NumPy, pip], rpm_packages: [glibc, openssl-libs], libraries: [libssl.so.3],
   symbols: [GLIBC_2.34, OPENSSL_3.0.0]}
- {environment_name: slim, os_name: debian, os_version: "12", python_version: "3.11", image_name: python,
   python_packages: [pip]}
- {environment_name: bare, os_name: debian, os_version: "12", python_version: "3.12", image_name: python}
"""


def _names(runtime: SimpleNamespace, **params: str) -> list[str]:
    answer, status = container_images(runtime, params)
    assert status == 200
    assert all("_contents" not in image for image in answer["container_images"])
    return [image["environment_name"] for image in answer["container_images"]]


def test_content_filters(tmp_path: Path) -> None:
    path = tmp_path / "images.yaml"
    path.write_text(CATALOGUE)
    runtime = SimpleNamespace(container_images=load_container_images(path))
    assert _names(runtime) == ["ubi", "slim", "bare"]
    assert _names(runtime, package_name="numpy") == ["ubi"]  # names compared normalized
    assert _names(runtime, package_name="pip") == ["ubi", "slim"]
    assert _names(runtime, rpm_package_name="glibc") == ["ubi"]
    assert _names(runtime, library_name="libssl.so.3", symbol="GLIBC_2.34") == ["ubi"]
    assert _names(runtime, symbol="GLIBC_2.99") == []
    assert _names(runtime, package_name="pip", os_name="debian") == ["slim"]
    answer, _ = container_images(runtime, {"package_name": "numpy"})
    assert answer["parameters"]["package_name"] == "numpy"


def test_a_bad_contents_list_is_named(tmp_path: Path) -> None:
    path = tmp_path / "images.yaml"
    path.write_text('- {os_name: rhel, os_version: "9", python_version: "3.11", symbols: GLIBC_2.34}\n')
    with pytest.raises(SettingsError, match="entry 1 of .*symbols must be a list of names"):
        load_container_images(path)

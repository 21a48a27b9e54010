"""Small projects for build tests: sdists written from a dict of files, wheels of tiny backends.

Everything is written here, byte by byte, so the tests need no network and no build tool; the
only outside files are setuptools' wheels that virtualenv embeds (served on the test index).
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import textwrap
import zipfile
from pathlib import Path

import virtualenv


def write_sdist(folder: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """``name-version.tar.gz`` in ``folder`` holding ``name-version/<path>`` for every file."""
    top = f"{name}-{version}"
    path = folder / f"{top}.tar.gz"
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        for relative, text in sorted(files.items()):
            data = textwrap.dedent(text).encode("utf-8")
            info = tarfile.TarInfo(f"{top}/{relative}")
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return path


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write_wheel(folder: Path, name: str, version: str, modules: dict[str, str]) -> Path:
    """A pure-Python wheel of ``modules`` (file name -> source)."""
    dist_info = f"{name}-{version}.dist-info"
    contents = {module: textwrap.dedent(source).encode() for module, source in modules.items()}
    contents[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    contents[f"{dist_info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = [_record_line(entry, data) for entry, data in contents.items()] + [f"{dist_info}/RECORD,,"]
    contents[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for entry, data in contents.items():
            archive.writestr(entry, data)
    return path


def embedded_setuptools_wheels() -> list[Path]:
    """setuptools wheels that virtualenv ships (offline): the legacy projects' build requirement."""
    folder = Path(virtualenv.__file__).parent / "seed" / "wheels" / "embed"
    wheels = sorted(folder.glob("setuptools-*.whl"))
    if not wheels:
        raise RuntimeError(f"virtualenv embeds no setuptools wheel in {folder}")
    return wheels


# A PEP 517 backend published as a wheel. prepare_metadata needs tiny_helper, which it asks for in
# get_requires_for_build_wheel (so a second install from the index); the metadata names the
# Python that ran it. The "wheel only" flavour lacks prepare_metadata_for_build_wheel.
_BACKEND_COMMON = '''
import os
import sys
import zipfile

NAME, VERSION = "custom-project", "2.0"


def _metadata():
    import tiny_helper

    return (
        "Metadata-Version: 2.1\\nName: %s\\nVersion: %s\\n"
        "Requires-Dist: attrs>=20\\n"
        "Requires-Dist: built-on-py%d%d\\n"
        "Requires-Dist: helped-by-%s\\n" % (NAME, VERSION, sys.version_info[0], sys.version_info[1],
                                            tiny_helper.PROJECT)
    )


def get_requires_for_build_wheel(config_settings=None):
    return ["tiny-helper>=1.0"]


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    dist_info = "%s-%s.dist-info" % (NAME.replace("-", "_"), VERSION)
    filename = "%s-%s-py3-none-any.whl" % (NAME.replace("-", "_"), VERSION)
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as archive:
        archive.writestr(dist_info + "/METADATA", _metadata())
        archive.writestr(dist_info + "/WHEEL", "Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
        archive.writestr(dist_info + "/RECORD", "")
    return filename
'''

_PREPARE_HOOK = '''

def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    dist_info = "%s-%s.dist-info" % (NAME.replace("-", "_"), VERSION)
    os.makedirs(os.path.join(metadata_directory, dist_info))
    with open(os.path.join(metadata_directory, dist_info, "METADATA"), "w") as handle:
        handle.write(_metadata())
    return dist_info
'''

BACKEND_MODULES = {
    "tiny_backend/__init__.py": _BACKEND_COMMON + _PREPARE_HOOK,
    "tiny_backend/wheel_only.py": "from tiny_backend import build_wheel, get_requires_for_build_wheel  # noqa\n",
}


def custom_backend_project(backend: str) -> dict[str, str]:
    """The files of an sdist built by ``backend`` (a module of the tiny_backend wheel)."""
    return {
        "pyproject.toml": f"""
            [build-system]
            requires = ["tiny-backend==0.1"]
            build-backend = "{backend}"
        """,
        "PKG-INFO": "Metadata-Version: 2.2\nName: custom-project\nVersion: 2.0\nDynamic: Requires-Dist\n",
    }


def requires_dist(metadata: bytes) -> list[str]:
    """The Requires-Dist values of a METADATA file, in order."""
    headers = metadata.decode("utf-8").split("\n\n", 1)[0]
    return [line.split(":", 1)[1].strip() for line in headers.splitlines() if line.startswith("Requires-Dist:")]

"""Build real, small, installable wheels and sdists for tests, deterministically.

A :class:`Dist` describes one release of one project. :func:`build_dist_files` turns it into
wheel and sdist files on disk. The same ``Dist`` always gives byte-identical files (fixed zip
and tar timestamps, sorted entries, fixed owners, gzip header without time), so the same
release served by two test indexes carries the same sha256 hashes.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import re
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import Version

# 1980-01-01 is the earliest time a zip entry can carry; any fixed value gives reproducible files.
ZIP_TIMESTAMP = (2020, 1, 1, 0, 0, 0)
TAR_MTIME = 1577836800  # 2020-01-01T00:00:00Z, the same instant as ZIP_TIMESTAMP


def normalize_name(name: str) -> str:
    """Project name as the simple API uses it (PEP 503): lower case, runs of -_. become '-'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def filename_name(name: str) -> str:
    """Project name as it appears in wheel and sdist file names: normalized, with underscores."""
    return normalize_name(name).replace("-", "_")


@dataclass(frozen=True)
class Dist:
    """One release of a project, as the test index should serve it.

    ``extras`` maps an extra's name to the requirements it adds; they appear in the metadata as
    ``Provides-Extra`` plus ``Requires-Dist: <req>; extra == "<name>"``.
    ``wheel_tags`` are full tag triples such as ``"py3-none-any"`` or
    ``"cp311-cp311-manylinux_2_17_x86_64"`` (compressed sets like ``"py2.py3-none-any"`` work);
    one wheel is built per entry. ``files`` is how many wheels to build per tag: the extra ones
    carry build tags ``1``, ``2``, ... and differ in content (so in hash).
    ``broken_metadata`` makes the wheel's METADATA (and its PEP 658 file) bad: ``True`` or
    ``"mismatch"`` gives well-formed metadata naming another project and version; ``"garbage"``
    gives bytes no metadata parser accepts.
    ``payload_bytes`` adds an incompressible data file of that size to each wheel, so a test can
    tell a range read of the metadata from a download of the whole file; ``sdist_payload_bytes``
    does the same for the sdist (big sdists).
    ``setup_py`` makes the sdist a legacy setuptools project: that text as its ``setup.py``, no
    ``pyproject.toml`` or ``setup.cfg``, and a PKG-INFO of Metadata-Version 2.1 (so its
    dependencies are only known by building it, e.g. computed by setup.py from the running Python).
    """

    name: str
    version: str
    requires_dist: tuple[str, ...] = ()
    requires_python: str | None = None
    extras: dict[str, list[str]] = field(default_factory=dict)
    wheel_tags: tuple[str, ...] = ("py3-none-any",)
    sdist: bool = True
    wheel: bool = True
    metadata_file: bool = True
    yanked: bool | str = False
    classifiers: tuple[str, ...] = ()
    upload_time: str | None = None
    dynamic_deps: bool = False
    broken_metadata: bool | str = False
    files: int = 1
    import_name: str | None = None
    summary: str | None = None
    build_tag: str | None = None
    payload_bytes: int = 0
    sdist_payload_bytes: int = 0
    setup_py: str | None = None

    def __post_init__(self) -> None:
        # Tuples are required for hashing; accept lists from callers for convenience.
        for attribute in ("requires_dist", "wheel_tags", "classifiers"):
            value = getattr(self, attribute)
            if isinstance(value, str):
                raise TypeError(f"Dist.{attribute} must be a sequence of strings, not a string")
            object.__setattr__(self, attribute, tuple(value))
        Version(self.version)  # raises InvalidVersion early, naming the bad version
        if not self.wheel and not self.sdist:
            raise ValueError(f"{self.name} {self.version}: a Dist needs a wheel or an sdist (both are off)")
        if self.files < 1:
            raise ValueError("Dist.files must be at least 1")
        if self.broken_metadata not in (False, True, "mismatch", "garbage"):
            raise ValueError("Dist.broken_metadata must be False, True, 'mismatch' or 'garbage'")
        if self.build_tag is not None and not re.fullmatch(r"\d+[A-Za-z0-9_]*", self.build_tag):
            raise ValueError(f"build tag {self.build_tag!r} must start with a digit (wheel spec)")

    def __hash__(self) -> int:
        return hash((self.name, self.version, self.wheel_tags, self.build_tag))

    @property
    def normalized_name(self) -> str:
        return normalize_name(self.name)

    @property
    def normalized_version(self) -> str:
        return str(Version(self.version))

    @property
    def module_name(self) -> str:
        """The importable top-level module the dists contain."""
        return self.import_name or filename_name(self.name)

    @property
    def description(self) -> str:
        return self.summary or f"Test package {self.name} {self.version}"

    def all_requires_dist(self) -> list[str]:
        """Requires-Dist lines: plain requirements, then each extra's requirements with its marker."""
        lines = list(self.requires_dist)
        for extra, requirements in self.extras.items():
            for requirement in requirements:
                lines.append(_with_extra_marker(requirement, extra))
        return lines

    def wheel_builds(self) -> list[tuple[str | None, str]]:
        """(build tag, tag triple) of every wheel of this release."""
        builds: list[tuple[str | None, str]] = []
        for tag in self.wheel_tags:
            builds.append((self.build_tag, tag))
            extra_numbers = (n for n in range(1, 1000) if str(n) != self.build_tag)
            for _, number in zip(range(self.files - 1), extra_numbers, strict=False):
                builds.append((str(number), tag))
        return builds if self.wheel else []

    def wheel_filename(self, tag: str, build_tag: str | None = None) -> str:
        parts = [filename_name(self.name), self.normalized_version]
        if build_tag:
            parts.append(build_tag)
        parts.append(tag)
        return "-".join(parts) + ".whl"

    @property
    def sdist_filename(self) -> str:
        return f"{filename_name(self.name)}-{self.normalized_version}.tar.gz"

    def filenames(self) -> list[str]:
        names = [self.wheel_filename(tag, build) for build, tag in self.wheel_builds()]
        if self.sdist:
            names.append(self.sdist_filename)
        return names


def _with_extra_marker(requirement: str, extra: str) -> str:
    base, _, marker = requirement.partition(";")
    if marker.strip():
        return f'{base.strip()}; ({marker.strip()}) and extra == "{extra}"'
    return f'{base.strip()}; extra == "{extra}"'


@dataclass(frozen=True)
class BuiltFile:
    """A file written by the builder, with what an index needs to advertise it."""

    dist: Dist
    filename: str
    path: Path
    sha256: str
    size: int
    kind: str  # "wheel" or "sdist"
    metadata: bytes | None  # the wheel's METADATA bytes (served as the PEP 658 file); None for sdists

    @property
    def metadata_sha256(self) -> str | None:
        return hashlib.sha256(self.metadata).hexdigest() if self.metadata is not None else None


# ---------------------------------------------------------------- metadata text


def core_metadata(dist: Dist, *, metadata_version: str = "2.1", for_sdist: bool = False) -> str:
    """The METADATA / PKG-INFO text (email header format, description as body)."""
    headers = [
        ("Metadata-Version", metadata_version),
        ("Name", dist.name),
        ("Version", dist.version),
        ("Summary", dist.description),
    ]
    headers += [("Classifier", classifier) for classifier in dist.classifiers]
    if dist.requires_python:
        headers.append(("Requires-Python", dist.requires_python))
    if for_sdist and dist.dynamic_deps:
        headers.append(("Dynamic", "Requires-Dist"))
        headers.append(("Dynamic", "Provides-Extra"))
    else:
        headers += [("Requires-Dist", requirement) for requirement in dist.all_requires_dist()]
        headers += [("Provides-Extra", extra) for extra in dist.extras]
    headers.append(("Description-Content-Type", "text/plain"))
    lines = [f"{key}: {value}" for key, value in headers]
    body = f"{dist.description}.\n\nBuilt on the fly by the thamos test suite.\n"
    return "\n".join(lines) + "\n\n" + body


def broken_core_metadata(dist: Dist) -> bytes:
    """METADATA that a careful client must refuse (see Dist.broken_metadata)."""
    if dist.broken_metadata == "garbage":
        # Invalid UTF-8, no header structure at all.
        return b"\xff\xfe\x00 this is not core metadata \x00\x81\n" + bytes(range(0, 256, 7))
    mismatched = Dist(
        name=f"{dist.name}-impostor",
        version=f"{dist.normalized_version}.post999",
        requires_dist=("no-such-dependency>=1",),
    )
    return core_metadata(mismatched).encode("utf-8")


def module_source(dist: Dist) -> str:
    return f'"""Test module of {dist.name}."""\n\n__version__ = "{dist.version}"\nPROJECT = "{dist.name}"\n'


# ---------------------------------------------------------------- wheels


def _expand_tags(tag: str) -> list[str]:
    pieces = tag.split("-")
    if len(pieces) != 3:
        raise ValueError(f"wheel tag {tag!r} must be python-abi-platform, e.g. py3-none-any")
    pythons, abis, platforms = (piece.split(".") for piece in pieces)
    return [f"{p}-{a}-{pl}" for p in pythons for a in abis for pl in platforms]


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def _payload(size: int, seed: str) -> bytes:
    """Deterministic bytes that deflate cannot shrink (a sha256 counter stream)."""
    blocks = (hashlib.sha256(f"{seed}:{n}".encode()).digest() for n in range(size // 32 + 1))
    return b"".join(blocks)[:size]


def _zip_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    info.create_system = 3  # unix, so the permission bits above are honoured
    return info


def build_wheel_bytes(dist: Dist, tag: str, build_tag: str | None = None) -> tuple[bytes, bytes]:
    """Return (wheel bytes, METADATA bytes) of one wheel of ``dist``."""
    dist_info = f"{filename_name(dist.name)}-{dist.normalized_version}.dist-info"
    if dist.broken_metadata:
        metadata = broken_core_metadata(dist)
    else:
        metadata = core_metadata(dist).encode("utf-8")
    purelib = all(t.endswith("-any") for t in _expand_tags(tag))
    wheel_lines = [
        "Wheel-Version: 1.0",
        "Generator: thamos-tests (dist_builder)",
        f"Root-Is-Purelib: {'true' if purelib else 'false'}",
    ]
    wheel_lines += [f"Tag: {expanded}" for expanded in _expand_tags(tag)]
    if build_tag:
        wheel_lines.append(f"Build: {build_tag}")
    contents = {
        f"{dist.module_name}/__init__.py": module_source(dist).encode("utf-8"),
        f"{dist_info}/METADATA": metadata,
        f"{dist_info}/WHEEL": ("\n".join(wheel_lines) + "\n").encode("utf-8"),
    }
    if dist.payload_bytes:
        seed = dist.wheel_filename(tag, build_tag)
        contents[f"{dist.module_name}/payload.bin"] = _payload(dist.payload_bytes, seed)
    record_buffer = io.StringIO()
    writer = csv.writer(record_buffer, lineterminator="\n")
    for name in sorted(contents):
        writer.writerow([name, _record_hash(contents[name]), len(contents[name])])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    contents[f"{dist_info}/RECORD"] = record_buffer.getvalue().encode("utf-8")

    # Package first, then dist-info with RECORD last, as wheel writers conventionally do.
    order = sorted(name for name in contents if not name.startswith(dist_info))
    order += sorted(name for name in contents if name.startswith(dist_info) and not name.endswith("RECORD"))
    order.append(f"{dist_info}/RECORD")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in order:
            archive.writestr(_zip_entry(name), contents[name])
    return buffer.getvalue(), metadata


# ---------------------------------------------------------------- sdists


def _toml_string(value: str) -> str:
    # JSON string escapes (ASCII only) are valid TOML basic strings.
    return json.dumps(value, ensure_ascii=True)


def _toml_list(values: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(_toml_string(value) for value in values) + "]"


def pyproject_toml(dist: Dist) -> str:
    lines = [
        "[build-system]",
        'requires = ["setuptools>=61"]',
        'build-backend = "setuptools.build_meta"',
        "",
        "[project]",
        f"name = {_toml_string(dist.name)}",
        f"version = {_toml_string(dist.version)}",
        f"description = {_toml_string(dist.description)}",
    ]
    if dist.requires_python:
        lines.append(f"requires-python = {_toml_string(dist.requires_python)}")
    if dist.classifiers:
        lines.append(f"classifiers = {_toml_list(dist.classifiers)}")
    if dist.dynamic_deps:
        # The dependencies live in setup.cfg, so static readers of pyproject.toml cannot see them.
        lines.append('dynamic = ["dependencies", "optional-dependencies"]')
    else:
        lines.append(f"dependencies = {_toml_list(dist.requires_dist)}")
        if dist.extras:
            lines += ["", "[project.optional-dependencies]"]
            lines += [f"{_toml_string(extra)} = {_toml_list(reqs)}" for extra, reqs in dist.extras.items()]
    lines += ["", "[tool.setuptools]", f"packages = [{_toml_string(dist.module_name)}]", ""]
    return "\n".join(lines)


def setup_cfg(dist: Dist) -> str:
    lines = ["[metadata]", f"name = {dist.name}", f"version = {dist.version}", ""]
    if dist.dynamic_deps:
        lines += ["[options]", "install_requires ="]
        lines += [f"    {requirement}" for requirement in dist.requires_dist]
        lines.append("")
        if dist.extras:
            lines.append("[options.extras_require]")
            for extra, requirements in dist.extras.items():
                lines.append(f"{extra} =")
                lines += [f"    {requirement}" for requirement in requirements]
            lines.append("")
    return "\n".join(lines)


def _tar_entry(name: str, size: int, *, directory: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 0 if directory else size
    info.mtime = TAR_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o755 if directory else 0o644
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    return info


def build_sdist_bytes(dist: Dist) -> bytes:
    top = f"{filename_name(dist.name)}-{dist.normalized_version}"
    if dist.setup_py is not None:
        contents = {
            f"{top}/PKG-INFO": core_metadata(dist, metadata_version="2.1", for_sdist=True).encode("utf-8"),
            f"{top}/setup.py": dist.setup_py.encode("utf-8"),
        }
    else:
        contents = {
            f"{top}/PKG-INFO": core_metadata(dist, metadata_version="2.2", for_sdist=True).encode("utf-8"),
            f"{top}/pyproject.toml": pyproject_toml(dist).encode("utf-8"),
            f"{top}/setup.cfg": setup_cfg(dist).encode("utf-8"),
        }
    contents[f"{top}/{dist.module_name}/__init__.py"] = module_source(dist).encode("utf-8")
    if dist.sdist_payload_bytes:
        contents[f"{top}/{dist.module_name}/payload.bin"] = _payload(
            dist.sdist_payload_bytes, dist.sdist_filename
        )
    directories = {top, f"{top}/{dist.module_name}"}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(set(contents) | directories):
            if name in directories:
                archive.addfile(_tar_entry(name, 0, directory=True))
            else:
                archive.addfile(_tar_entry(name, len(contents[name])), io.BytesIO(contents[name]))
    compressed = io.BytesIO()
    # mtime=0 and no file name in the gzip header keep the output reproducible.
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0) as stream:
        stream.write(raw.getvalue())
    return compressed.getvalue()


# ---------------------------------------------------------------- on disk


def _write_file(
    dist: Dist, directory: Path, filename: str, data: bytes, kind: str, metadata: bytes | None
) -> BuiltFile:
    path = directory / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return BuiltFile(dist, filename, path, hashlib.sha256(data).hexdigest(), len(data), kind, metadata)


def build_dist_files(dist: Dist, directory: Path) -> list[BuiltFile]:
    """Write every file of ``dist`` into ``directory`` and describe them."""
    built: list[BuiltFile] = []
    for build_tag, tag in dist.wheel_builds():
        data, metadata = build_wheel_bytes(dist, tag, build_tag)
        built.append(
            _write_file(dist, directory, dist.wheel_filename(tag, build_tag), data, "wheel", metadata)
        )
    if dist.sdist:
        built.append(
            _write_file(dist, directory, dist.sdist_filename, build_sdist_bytes(dist), "sdist", None)
        )
    return built

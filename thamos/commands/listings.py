"""Commands listing what the backend knows: runtime environments, container images, package indexes and
the packages providing an importable module."""

from __future__ import annotations

import click

from .. import lib
from ..render import emit
from .options import output_format_option, state


@click.command("environments")
@output_format_option
def environments_command(output_format: str) -> None:
    """List the runtime environments the backend resolves for."""
    items = lib.list_environments()
    emit(state().ui, items, output_format, columns=[("OS", "os_name"), ("OS version", "os_version"),
                                                    ("Python", "python_version"), ("CUDA", "cuda_version"),
                                                    ("Platform", "platform"), ("Image", "image")],
         title="Environments")


@click.command("images")
@click.option("-n", "--os-name", help="Only images of this operating system.")
@click.option("-v", "--os-version", help="Only images of this operating system version.")
@click.option("-p", "--python-version", help="Only images with this Python version.")
@click.option("--cuda-version", help="Only images with this CUDA version.")
@click.option("--image-name", help="Only images whose name contains this text.")
@click.option("--package-name", help="Only images shipping this Python package.")
@click.option("--rpm-package-name", help="Only images shipping this RPM package.")
@click.option("--library-name", help="Only images shipping this shared library.")
@click.option("--symbol", help="Only images whose libraries provide this symbol version.")
@output_format_option
def images_command(output_format: str, **filters: str | None) -> None:
    """List container images usable as base_image."""
    items = lib.list_images(**filters)
    emit(state().ui, items, output_format, columns=[("Image", "image_name"), ("Environment", "environment_name"),
                                                    ("OS", "os_name"), ("OS version", "os_version"),
                                                    ("Python", "python_version"), ("CUDA", "cuda_version")],
         title="Container images")


@click.command("indexes")
@output_format_option
def indexes_command(output_format: str) -> None:
    """List the package indexes the backend resolves against."""
    items = lib.list_indexes()
    emit(state().ui, items, output_format, columns=[("Name", "name"), ("URL", "url"), ("Verify TLS", "verify_ssl"),
                                                    ("Enabled", "enabled")], title="Package indexes")


@click.command("whatprovides")
@click.argument("imports", nargs=-1, required=True)
@output_format_option
def whatprovides_command(imports: tuple[str, ...], output_format: str) -> None:
    """Which packages provide the given importable modules."""
    backend = lib.Backend()
    rows = []
    for name in imports:
        for item in lib.whatprovides(name, backend=backend):
            rows.append({"import": name, **item})
    emit(state().ui, rows, output_format, columns=[("Import", "import"), ("Package", "package_name"),
                                                   ("Version", "version"), ("Index", "index_url")],
         title="Providers")
    unknown = [name for name in imports if not any(row["import"] == name for row in rows)]
    if unknown:
        state().ui.message("warn", f"No package known to the backend provides: {', '.join(unknown)}")


@click.command("advisories")
@output_format_option
def advisories_command(output_format: str) -> None:
    """Show the advisory data the backend avoids known vulnerabilities with: source, date, counts."""
    from ..backend import get_advisories
    from ..render import key_value_rows

    ui = state().ui
    info = get_advisories()
    emit(ui, info, output_format, rows=key_value_rows(info), columns=[("Key", "key"), ("Value", "value")],
         title="Advisory data")
    if not info.get("advisories"):
        ui.message("warn", "The backend has no advisory data: security recommendations cannot avoid known "
                           "vulnerabilities (thamos serve --advisory-db PATH|URL)")
    elif info.get("stale"):
        ui.message("warn", f"The advisory data is {info.get('age_days')} days old (snapshot of {info.get('date')}); "
                           "refresh it with thamos serve --advisory-db PATH|URL")
    if info.get("note"):
        ui.message("warn", str(info["note"]))


COMMANDS = (environments_command, images_command, indexes_command, whatprovides_command, advisories_command)

"""thamos.settings: one table of the client's variables, the README's table, and the readers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from thamos import settings
from thamos.exceptions import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]


def _client_modules() -> list[Path]:
    """The client's modules; the server's commands (`thamos serve`...: they import userapi) read the
    server's own settings, documented with the server."""
    return [path for path in sorted((ROOT / "thamos").rglob("*.py"))
            if not re.search(r"^from userapi[. ]", path.read_text(encoding="utf-8"), re.MULTILINE)]


def _readme_client_variables() -> set[str]:
    text = (ROOT / "README.rst").read_text(encoding="utf-8")
    table = text.split("Environment variables\n~~~~~", 1)[1].split("\n\n", 2)[1]
    first_column = [line.split("  ", 1)[0] for line in table.splitlines() if line.startswith("``")]
    return {name for cell in first_column for name in re.findall(r"``([A-Z0-9_]+)``", cell)}


def test_the_table_and_the_readme_list_the_same_variables() -> None:
    assert set(settings.VARIABLES) == _readme_client_variables()


def test_no_module_reads_a_variable_behind_the_table() -> None:
    pattern = re.compile(r"""(?:getenv\(|environ\.get\(|environ\[)\s*["']((?:THAMOS|THOTH)_\w+)""")
    for path in _client_modules():
        if path.name == "settings.py":
            continue
        assert not pattern.findall(path.read_text(encoding="utf-8")), f"{path} reads the environment itself"


def test_click_reads_exactly_the_option_variables() -> None:
    options = {variable.name for variable in settings.VARIABLES.values() if variable.read_by == "click"}
    found = set()
    for path in _client_modules():
        found |= set(re.findall(r'envvar="(THAMOS_\w+)"', path.read_text(encoding="utf-8")))
    # Two options read variables the client also reads itself (the template, the runtime environment).
    assert found - {"THAMOS_CONFIG_TEMPLATE", "THAMOS_RUNTIME_ENVIRONMENT"} == options


def test_a_name_outside_the_table_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        settings.flag("THAMOS_NO_SUCH_THING")


def test_readers(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("THAMOS_TIMEOUT", "THAMOS_RETRY_ON_ERROR_COUNT", "THAMOS_EMBEDDED_PORT",
                 "THAMOS_EMBEDDED_IDLE_TIMEOUT", "THAMOS_DISABLE_CUDA", "THAMOS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert settings.number("THAMOS_TIMEOUT") == 2000.0 and settings.count("THAMOS_RETRY_ON_ERROR_COUNT") == 3
    assert settings.port("THAMOS_EMBEDDED_PORT") == 9876 and settings.seconds("THAMOS_EMBEDDED_IDLE_TIMEOUT") == 900
    assert settings.flag("THAMOS_DISABLE_CUDA") is False and settings.text("THAMOS_TOKEN") is None
    monkeypatch.setenv("THAMOS_TOKEN", "  ")  # blank is unset
    assert settings.text("THAMOS_TOKEN") is None
    monkeypatch.setenv("THAMOS_DISABLE_CUDA", "Yes")
    assert settings.flag("THAMOS_DISABLE_CUDA") is True


@pytest.mark.parametrize(
    ("reader", "name", "value", "message"),
    [
        (settings.number, "THAMOS_TIMEOUT", "soon", "THAMOS_TIMEOUT must be a number, got 'soon'"),
        (settings.number, "THAMOS_TIMEOUT", "-1", "THAMOS_TIMEOUT must not be negative, got '-1'"),
        (settings.count, "THAMOS_RETRY_ON_ERROR_COUNT", "1.5", "THAMOS_RETRY_ON_ERROR_COUNT must be a number"),
        (settings.port, "THAMOS_EMBEDDED_PORT", "abc", "THAMOS_EMBEDDED_PORT must be a port number, got 'abc'"),
        (settings.port, "THAMOS_EMBEDDED_PORT", "0", "THAMOS_EMBEDDED_PORT must be between 1 and 65535, got 0"),
        (settings.seconds, "THAMOS_EMBEDDED_IDLE_TIMEOUT", "0", "THAMOS_EMBEDDED_IDLE_TIMEOUT must be positive"),
        (settings.flag, "THAMOS_DISABLE_CUDA", "maybe", "THAMOS_DISABLE_CUDA must be one of"),
    ],
)
def test_a_bad_value_is_a_configuration_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, reader, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        reader(name)
    assert str(caught.value.message).startswith(message)


def test_the_reporter_flags_never_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THAMOS_VERBOSE", "maybe")
    assert settings.lenient_flag("THAMOS_VERBOSE") is False

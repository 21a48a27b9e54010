"""The server's options, declared once in userapi.options: settings, variables and both commands agree."""

from __future__ import annotations

from dataclasses import fields

import pytest
from click.testing import CliRunner

from thamos.commands.serve import serve_command
from userapi.cli import load_from_flags
from userapi.cli import serve as userapi_command
from userapi.options import FLAGS, OPTIONS, SETTINGS, SettingsError
from userapi.settings import ServerSettings, load_settings


def test_every_setting_is_declared_once_with_its_own_flag_and_variable():
    assert [field.name for field in fields(ServerSettings)] == [option.key for option in SETTINGS]
    flags = [option.flag for option in FLAGS]
    variables = [option.env for option in OPTIONS.values() if option.env]
    assert len(flags) == len(set(flags)) and len(variables) == len(set(variables))
    assert all(variable.startswith("THAMOS_") for variable in variables)


def test_thamos_serve_and_python_m_userapi_take_the_same_flags():
    def flags_of(command):
        return sorted(option for param in command.params for option in param.opts if option != "--help")

    assert flags_of(serve_command) == flags_of(userapi_command) == sorted(option.flag for option in FLAGS)


def test_a_flag_a_variable_and_a_settings_file_key_read_a_value_alike(tmp_path, monkeypatch):
    for option in OPTIONS.values():
        if option.env:
            monkeypatch.delenv(option.env, raising=False)
    settings_file = tmp_path / "server.yaml"
    settings_file.write_text("workers: 3\nknown_indexes: ['a=http://127.0.0.1:1/simple/']\n")
    from_file = load_settings(settings_file)
    monkeypatch.setenv("THAMOS_SERVER_WORKERS", "3")
    monkeypatch.setenv("THAMOS_KNOWN_INDEXES", "a=http://127.0.0.1:1/simple/")
    from_environment = load_settings()
    monkeypatch.delenv("THAMOS_SERVER_WORKERS")
    monkeypatch.delenv("THAMOS_KNOWN_INDEXES")
    from_flags = load_from_flags({"workers": "3", "known_indexes": ("a=http://127.0.0.1:1/simple/",)})
    assert from_file == from_environment == from_flags
    assert from_flags.workers == 3 and from_flags.known_indexes[0].name == "a"


@pytest.mark.parametrize(
    "flags,message",
    [
        ({"workers": "0"}, "workers must be at least 1, got 0 (set by --workers)"),
        ({"build_memory_mb": "10"}, "build_memory_mb must be at least 64 (MB), got 10 (set by --build-memory)"),
        ({"port": "http"}, "port must be a whole number, got 'http' (set by --port)"),
        ({"token_file": "/no/such/token"}, "cannot read the token file /no/such/token"),
    ],
)
def test_a_bad_flag_is_named_in_the_message(flags, message):
    with pytest.raises(SettingsError) as raised:
        load_from_flags(flags)
    assert message in str(raised.value)


def test_help_of_both_commands_names_the_variables():
    for command in (serve_command, userapi_command):
        text = CliRunner().invoke(command, ["--help"], terminal_width=200).output
        assert "THAMOS_SERVER_PORT" in text and "--build-python PATH" in text

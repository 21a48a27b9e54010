"""Configuration: templates, environment expansion, runtime environments, overlays, schema errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from thamos.config import (
    Configuration,
    expand_environment,
    parse_config_text,
    parse_labels,
    render_template,
)
from thamos.exceptions import (
    ConfigExistsError,
    ConfigurationError,
    NoConfigurationError,
    NoRuntimeEnvironmentError,
)

# The template of the client seed, with the structure it describes (labels per runtime environment).
SEED_TEMPLATE = """\
host: {THOTH_HOST}
tls_verify: true
requirements_format: {requirements_format}

runtime_environments:
  - name: '{runtime_environment_name}'
    operating_system:
      name: {os_name}
      version: '{os_version}'
    labels:
      foo: bar
      key: value
    hardware:
      cpu_family: {cpu_family}
      cpu_model: {cpu_model}
      gpu_model: {gpu_model}
    python_version: '{python_version}'
    cuda_version: {cuda_version}
    recommendation_type: stable
    platform: '{platform}'
"""

TWO_ENVIRONMENTS = """\
tls_verify: true
requirements_format: pipenv

runtime_environments:
  - name: 'cuda'
    operating_system:
      name: fedora
      version: '32'
    hardware:
      cpu_family: 6
      cpu_model: 94
      gpu_model: 'GeForce GTX 680'
    python_version: '3.8'
    cuda_version: '10.1'
    recommendation_type: stable
    platform: 'linux-x86_64'
    openblas_version: '0.3.13'
    openmpi_version: '4.1'
    cudnn_version: '8'
    mkl_version: '2021.1.1'
    base_image: ''

  - name: 'no_cuda'
    operating_system:
      name: fedora
      version: '32'
    hardware:
      cpu_family: 6
      cpu_model: 94
      gpu_model: null
    python_version: '3.8'
    cuda_version: null
    recommendation_type: stable
    platform: 'linux-x86_64'
    openblas_version: '0.3.13'
    openmpi_version: '4.1'
    cudnn_version: null
    mkl_version: '2021.1.1'
    base_image: ''
"""

VALUES = {
    "runtime_environment_name": "fedora-38",
    "os_name": "fedora",
    "os_version": "38",
    "cpu_family": 6,
    "cpu_model": 94,
    "gpu_model": None,
    "python_version": "3.11",
    "cuda_version": "11.8",
    "platform": "linux-x86_64",
    "requirements_format": "pip-tools",
    "base_image": None,
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("THAMOS_CONFIG_EXPAND_ENV", "THAMOS_RUNTIME_ENVIRONMENT", "THAMOS_REQUIREMENTS_FORMAT",
                 "THAMOS_CONFIG_TEMPLATE", "THAMOS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_template_fills_known_placeholders_with_typed_values() -> None:
    rendered = render_template(SEED_TEMPLATE, VALUES)
    # The unknown placeholder is left for environment expansion at load time.
    assert "host: {THOTH_HOST}" in rendered
    content = parse_config_text(rendered.replace("host: {THOTH_HOST}\n", ""), "t.yaml", expand_env=False)
    env = content["runtime_environments"][0]
    assert env["name"] == "fedora-38"
    assert env["operating_system"] == {"name": "fedora", "version": "38"}
    assert env["hardware"] == {"cpu_family": 6, "cpu_model": 94, "gpu_model": None}
    # Unquoted in the template, still a string (not the float 11.8).
    assert env["cuda_version"] == "11.8"
    assert env["python_version"] == "3.11"
    assert env["labels"] == {"foo": "bar", "key": "value"}
    assert content["requirements_format"] == "pip-tools"


def test_template_quoted_placeholder_with_unknown_value_becomes_null() -> None:
    rendered = render_template("a: '{cuda_version}'\nb: {cuda_version}\n", {"cuda_version": None})
    assert yaml.safe_load(rendered) == {"a": None, "b": None}


def test_expansion_is_off_by_default_and_says_how_to_turn_it_on(project: Path) -> None:
    (project / ".thoth.yaml").write_text(render_template(SEED_TEMPLATE, VALUES))
    with pytest.raises(ConfigurationError) as error:
        Configuration().load_config()
    message = str(error.value)
    assert ".thoth.yaml" in message and "host" in message and "THAMOS_CONFIG_EXPAND_ENV" in message


def test_expansion_on_fills_from_environment_with_yaml_types(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = render_template(SEED_TEMPLATE, VALUES).replace("tls_verify: true", "tls_verify: {TLS}")
    (project / ".thoth.yaml").write_text(text)
    monkeypatch.setenv("THAMOS_CONFIG_EXPAND_ENV", "1")
    monkeypatch.setenv("THOTH_HOST", "thoth.example.com")
    monkeypatch.setenv("TLS", "false")
    content = Configuration().load_config()
    assert content["host"] == "thoth.example.com"
    assert content["tls_verify"] is False


def test_expansion_names_a_missing_variable(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / ".thoth.yaml").write_text(render_template(SEED_TEMPLATE, VALUES))
    monkeypatch.setenv("THAMOS_CONFIG_EXPAND_ENV", "1")
    monkeypatch.delenv("THOTH_HOST", raising=False)
    with pytest.raises(ConfigurationError, match="THOTH_HOST"):
        Configuration().load_config()


def test_expanded_value_cannot_inject_structure() -> None:
    text = expand_environment("host: {H}\n", "f", {"H": "x\ntoken: stolen"})
    assert yaml.safe_load(text) == {"host": "x\ntoken: stolen"}
    text = expand_environment("host: {H}\n", "f", {"H": "{a: b}"})
    assert yaml.safe_load(text) == {"host": "{a: b}"}


def test_expansion_disabled_explicitly_with_zero(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / ".thoth.yaml").write_text(TWO_ENVIRONMENTS.replace("tls_verify: true", "tls_verify: {TLS}"))
    monkeypatch.setenv("THAMOS_CONFIG_EXPAND_ENV", "0")
    monkeypatch.setenv("TLS", "false")
    with pytest.raises(ConfigurationError, match="tls_verify"):
        Configuration().load_config()


def test_runtime_environment_selection(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / ".thoth.yaml").write_text(TWO_ENVIRONMENTS)
    configuration = Configuration()
    assert configuration.get_runtime_environment()["name"] == "cuda"
    assert configuration.get_runtime_environment("no_cuda")["cuda_version"] is None
    monkeypatch.setenv("THAMOS_RUNTIME_ENVIRONMENT", "no_cuda")
    assert configuration.get_runtime_environment()["name"] == "no_cuda"
    # An explicit name wins over the variable.
    assert configuration.get_runtime_environment("cuda")["name"] == "cuda"
    with pytest.raises(NoRuntimeEnvironmentError) as error:
        configuration.get_runtime_environment("rocm")
    assert "'rocm'" in str(error.value) and "'cuda'" in str(error.value) and "'no_cuda'" in str(error.value)


def test_config_found_in_parent_directory(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / ".thoth.yaml").write_text(TWO_ENVIRONMENTS)
    nested = project / "src" / "pkg"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    configuration = Configuration()
    configuration.load_config()
    assert configuration.project_root == project.resolve()


def test_overlays_directory_per_environment(project: Path) -> None:
    (project / ".thoth.yaml").write_text(TWO_ENVIRONMENTS.replace("requirements_format: pipenv",
                                                                  "requirements_format: pipenv\noverlays_dir: overlays"))
    configuration = Configuration()
    assert configuration.files_dir("no_cuda") == project.resolve() / "overlays" / "no_cuda"
    assert configuration.files_dir() == project.resolve() / "overlays" / "cuda"


def test_without_overlays_files_live_in_the_root(project: Path) -> None:
    (project / ".thoth.yaml").write_text(TWO_ENVIRONMENTS)
    assert Configuration().files_dir("no_cuda") == project.resolve()


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (("python_version: '3.8'", "python_version: 3.8"), "runtime_environments[0].python_version"),
        (("cpu_family: 6", "cpu_family: six"), "runtime_environments[0].hardware.cpu_family"),
        (("tls_verify: true", "tls_verify: true\nhots: x"), "'hots'"),
        (("recommendation_type: stable", "recommendation_type: fastest"), "runtime_environments[0].recommendation_type"),
        (("name: 'no_cuda'", "name: 'cuda'"), "duplicate"),
        (("requirements_format: pipenv", "requirements_format: poetry"), "requirements_format"),
    ],
)
def test_schema_errors_name_the_key_and_the_file(project: Path, mutation: tuple[str, str], expected: str) -> None:
    old, new = mutation
    (project / ".thoth.yaml").write_text(TWO_ENVIRONMENTS.replace(old, new, 1))
    with pytest.raises(ConfigurationError) as error:
        Configuration().load_config()
    message = str(error.value)
    assert expected in message
    assert str(project / ".thoth.yaml") in message or ".thoth.yaml" in message


def test_python_version_may_name_a_patch_release(project: Path) -> None:
    (project / ".thoth.yaml").write_text(TWO_ENVIRONMENTS.replace("python_version: '3.8'", "python_version: '3.9.13'", 1))
    configuration = Configuration()
    configuration.load_config()
    assert configuration.get_runtime_environment("cuda")["python_version"] == "3.9.13"
    for bad in ("3", "3.9.13.1", "3.9.x"):
        (project / ".thoth.yaml").write_text(TWO_ENVIRONMENTS.replace("python_version: '3.8'", f"python_version: '{bad}'"))
        with pytest.raises(ConfigurationError, match=r"runtime_environments\[0\]\.python_version"):
            Configuration().load_config()


def test_malformed_yaml_names_the_line(project: Path) -> None:
    (project / ".thoth.yaml").write_text("runtime_environments:\n  - name: [unclosed\n")
    with pytest.raises(ConfigurationError, match=r"\.thoth\.yaml: not valid YAML \(line"):
        Configuration().load_config()


def test_library_users_load_a_configuration_from_a_string(project: Path) -> None:
    # thamos 1.x library API (notebook integrations hold the configuration in memory).
    configuration = Configuration()
    content = configuration.load_config_from_string(TWO_ENVIRONMENTS)
    assert configuration.get_runtime_environment()["name"] == content["runtime_environments"][0]["name"]
    assert configuration.has_config_file is False
    with pytest.raises(ConfigurationError, match=r"^<string>: not valid YAML"):
        configuration.load_config_from_string("runtime_environments: [\n")


def test_missing_file_is_a_configuration_error(project: Path) -> None:
    with pytest.raises(NoConfigurationError, match="thamos config"):
        Configuration().load_config()


def test_no_file_still_gives_a_discovered_environment(project: Path) -> None:
    configuration = Configuration()
    environment = configuration.get_runtime_environment()
    assert environment["name"]
    assert configuration.host is None
    assert configuration.files_dir() == project.resolve()


def test_requirements_format_overridden_by_environment(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / ".thoth.yaml").write_text(TWO_ENVIRONMENTS)
    configuration = Configuration()
    assert configuration.requirements_format == "pipenv"
    monkeypatch.setenv("THAMOS_REQUIREMENTS_FORMAT", "pip")
    assert configuration.requirements_format == "pip"
    monkeypatch.setenv("THAMOS_REQUIREMENTS_FORMAT", "conda")
    with pytest.raises(ConfigurationError, match="THAMOS_REQUIREMENTS_FORMAT"):
        _ = configuration.requirements_format


def test_create_from_template_and_never_overwrite_silently(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    template = project / "template.yaml"
    template.write_text(SEED_TEMPLATE.replace("host: {THOTH_HOST}\n", ""))
    configuration = Configuration()
    configuration.create_default_config(template)
    written = (project / ".thoth.yaml").read_text()
    content = parse_config_text(written, "x", expand_env=False)
    assert content["runtime_environments"][0]["labels"] == {"foo": "bar", "key": "value"}
    assert isinstance(content["runtime_environments"][0]["hardware"].get("cpu_family"), int | None)
    (project / ".thoth.yaml").write_text("# mine\n" + written)
    with pytest.raises(ConfigExistsError):
        configuration.create_default_config(template)
    assert (project / ".thoth.yaml").read_text().startswith("# mine")
    configuration.create_default_config(template, force=True)
    assert not (project / ".thoth.yaml").read_text().startswith("# mine")
    # The template can come from THAMOS_CONFIG_TEMPLATE too.
    monkeypatch.setenv("THAMOS_CONFIG_TEMPLATE", str(template))
    assert "labels" in configuration.create_default_config(nowrite=True)


def test_default_template_renders_a_valid_config(project: Path) -> None:
    text = Configuration().create_default_config(nowrite=True)
    content = parse_config_text(text, "default", expand_env=False)
    environment = content["runtime_environments"][0]
    assert environment["python_version"].count(".") == 1


def test_labels_merge_file_environment_and_command_line(project: Path) -> None:
    (project / ".thoth.yaml").write_text(
        "labels:\n  team: thoth\n  requester: file\n" + TWO_ENVIRONMENTS.replace(
            "    base_image: ''\n\n", "    base_image: ''\n    labels:\n      requester: env\n      n: 3\n\n", 1)
    )
    configuration = Configuration()
    environment = configuration.get_runtime_environment("cuda")
    labels = configuration.get_labels(environment)
    assert labels == {"team": "thoth", "requester": "env", "n": "3"}
    assert {**labels, **parse_labels("requester=ci_foo;team=x")} == {"team": "x", "requester": "ci_foo", "n": "3"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("requester=ci_foo;team=thoth", {"requester": "ci_foo", "team": "thoth"}),
        (" a = 1 ; ", {"a": "1"}),
        ("", {}),
        ("url=http://x/?a=b", {"url": "http://x/?a=b"}),
    ],
)
def test_parse_labels(text: str, expected: dict[str, str]) -> None:
    assert parse_labels(text) == expected


@pytest.mark.parametrize("text", ["novalue", "=x", "k=", "a=1;;b"])
def test_parse_labels_rejects_bad_items(text: str) -> None:
    if text == "a=1;;b":
        with pytest.raises(ValueError, match="'b'"):
            parse_labels(text)
        return
    with pytest.raises(ValueError):
        parse_labels(text)


def test_template_variable_without_a_file_is_used_in_memory(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    template = project / "template.yaml"
    template.write_text(SEED_TEMPLATE)
    monkeypatch.setenv("THAMOS_CONFIG_TEMPLATE", str(template))
    monkeypatch.setenv("THAMOS_CONFIG_EXPAND_ENV", "1")
    monkeypatch.setenv("THOTH_HOST", "thoth.example.com")
    configuration = Configuration()
    assert configuration.host == "thoth.example.com"
    assert configuration.get_runtime_environment()["labels"] == {"foo": "bar", "key": "value"}
    assert not (project / ".thoth.yaml").exists()


def test_a_configuration_is_checked_against_the_schema_once_until_it_changes(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from thamos import config as config_module

    monkeypatch.setenv("XDG_CACHE_HOME", str(project / "cache"))
    content = parse_config_text(TWO_ENVIRONMENTS, "first", expand_env=False)
    marks = project / "cache" / "thamos" / "client" / "checked-configurations"
    assert len(list(marks.iterdir())) == 1

    checked: list[str] = []
    real_check = config_module._check_schema
    monkeypatch.setattr(config_module, "_check_schema", lambda data, source: checked.append(source))
    assert parse_config_text(TWO_ENVIRONMENTS, "again", expand_env=False) == content
    assert checked == []  # the same configuration: its earlier check stands

    changed = TWO_ENVIRONMENTS.replace("tls_verify: true", "tls_verify: false")
    parse_config_text(changed, "changed", expand_env=False)
    assert checked == ["changed"]

    monkeypatch.setattr(config_module, "_check_schema", real_check)
    broken = TWO_ENVIRONMENTS.replace("tls_verify: true", "tls_verify: sometimes")
    with pytest.raises(ConfigurationError, match="tls_verify"):
        parse_config_text(broken, "broken", expand_env=False)
    assert len(list(marks.iterdir())) == 2  # the first and the changed one: a refused one is not remembered


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (TWO_ENVIRONMENTS, (True, None)),
        ("host: http://team.example:8080\n" + TWO_ENVIRONMENTS, (True, "http://team.example:8080")),
        ("host: [not, text]\n" + TWO_ENVIRONMENTS, (False, None)),  # the checked read says what is wrong
        ("host: x\n  bad: [\n", (False, None)),
    ],
)
def test_the_host_is_peeked_before_the_schema_check(
    project: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: tuple[bool, str | None]
) -> None:
    from thamos import config as config_module

    monkeypatch.setenv("XDG_CACHE_HOME", str(project / "cache"))
    (project / ".thoth.yaml").write_text(text, encoding="utf-8")
    checked: list[str] = []
    monkeypatch.setattr(config_module, "_check_schema", lambda data, source: checked.append(source))
    configuration = Configuration()
    assert configuration.peek_host() == expected
    assert checked == []  # what starts the embedded backend early waits for no schema check

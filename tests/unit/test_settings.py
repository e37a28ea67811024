"""Settings: layered TOML files and WXHUB_* variables, validated into one frozen tree."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.errors import ConfigError
from hub.settings import Environment, env_overrides, load_settings

PRODUCTION_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="


def test_defaults_are_the_embedded_setup(tmp_path: Path) -> None:
    settings = load_settings(environ={}, data_dir=str(tmp_path))
    assert settings.env is Environment.DEVELOPMENT
    assert settings.database_url == f"sqlite://{tmp_path / 'wxhub.sqlite3'}"
    assert settings.uses_embedded_redis
    assert settings.http.port == 8080


def test_environment_variables_override_files_with_nesting(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "WXHUB_HTTP__PORT": "9001",
            "WXHUB_DATA_DIR": str(tmp_path),
            "WXHUB_LOGGING__LEVEL": "WARNING",
            "WXHUB_VENV": "/ignored/not/a/setting",
        }
    )
    assert settings.http.port == 9001
    assert settings.logging.level == "WARNING"
    assert settings.data_dir == tmp_path


def test_env_file_layer_is_chosen_by_wxhub_env() -> None:
    settings = load_settings(environ={"WXHUB_ENV": "test"})
    assert settings.env is Environment.TEST
    assert settings.logging.format == "json"
    assert settings.security.data_key_bytes() is not None


def test_extra_config_file_is_strongest_file(tmp_path: Path) -> None:
    extra = tmp_path / "site.toml"
    extra.write_text("[http]\nport = 7000\n")
    assert load_settings(environ={"WXHUB_CONFIG": str(extra)}).http.port == 7000
    assert (
        load_settings(environ={"WXHUB_CONFIG": str(extra), "WXHUB_HTTP__PORT": "7001"}).http.port
        == 7001
    )


def test_keyword_overrides_win_over_environment() -> None:
    settings = load_settings(environ={"WXHUB_HTTP__PORT": "9001"}, http={"port": 9002})
    assert settings.http.port == 9002


def test_settings_are_frozen() -> None:
    settings = load_settings(environ={})
    with pytest.raises(ValidationError):
        settings.http.port = 1  # type: ignore[misc]


def test_invalid_value_names_the_key_and_its_variable() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"WXHUB_HTTP__PORT": "eighty"})
    assert "http.port" in str(raised.value)
    assert "WXHUB_HTTP__PORT" in str(raised.value)


def test_unknown_key_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"http\.prot"):
        load_settings(environ={"WXHUB_HTTP__PROT": "1"})


def test_missing_key_in_files_is_named(tmp_path: Path) -> None:
    (tmp_path / "default.toml").write_text('env = "development"\ndata_dir = "var"\n')
    with pytest.raises(ConfigError, match="http"):
        load_settings(environ={}, config_dir=tmp_path)


def test_unreadable_or_broken_toml_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(environ={"WXHUB_CONFIG": str(tmp_path / "missing.toml")})
    broken = tmp_path / "broken.toml"
    broken.write_text("[http\nport = 1")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(environ={"WXHUB_CONFIG": str(broken)})


def test_data_key_must_be_base64_of_32_bytes() -> None:
    with pytest.raises(ConfigError, match="base64"):
        load_settings(environ={"WXHUB_SECURITY__DATA_KEY": "not base64!"})
    with pytest.raises(ConfigError, match="32 bytes"):
        load_settings(environ={"WXHUB_SECURITY__DATA_KEY": "c2hvcnQ="})


def test_production_refuses_to_start_without_key_postgres_and_redis() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"WXHUB_ENV": "production"})
    message = str(raised.value)
    assert "security.data_key" in message
    assert "database.url" in message
    assert "redis.url" in message


def test_production_with_everything_given_loads() -> None:
    settings = load_settings(
        environ={
            "WXHUB_ENV": "production",
            "WXHUB_SECURITY__DATA_KEY": PRODUCTION_KEY,
            "WXHUB_DATABASE__URL": "postgres://wxhub@db/wxhub",
            "WXHUB_REDIS__URL": "redis://redis:6379/0",
        }
    )
    assert settings.env is Environment.PRODUCTION
    assert not settings.uses_embedded_redis


def test_json_values_in_variables_become_structures() -> None:
    assert env_overrides({"WXHUB_HTTP__HOST": "[1, 2]"}) == {"http": {"host": [1, 2]}}
    assert env_overrides({"WXHUB_HTTP__HOST": "[not json"}) == {"http": {"host": "[not json"}}

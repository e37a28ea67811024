"""The vault: sealed values open only with their key and column; blind indexes are keyed."""

import base64
import stat
from pathlib import Path

import pytest

from hub.errors import ConfigError
from hub.settings import load_settings
from hub.vault import Vault, VaultError, load_vault

KEY = bytes(range(32))


def test_sealed_value_opens_with_same_key_and_column() -> None:
    vault = Vault(KEY)
    sealed = vault.seal("+8613800138000", column="member.phone")
    assert b"13800138000" not in sealed
    assert vault.open(sealed, column="member.phone") == "+8613800138000"


def test_each_seal_is_different() -> None:
    vault = Vault(KEY)
    assert vault.seal("x", column="c") != vault.seal("x", column="c")


def test_sealed_value_does_not_open_in_another_column_or_with_another_key() -> None:
    sealed = Vault(KEY).seal("secret", column="pay_merchant.api_v3_key")
    with pytest.raises(VaultError):
        Vault(KEY).open(sealed, column="miniprogram_app.secret")
    with pytest.raises(VaultError):
        Vault(bytes(32)).open(sealed, column="pay_merchant.api_v3_key")


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_altered_sealed_value_does_not_open(position: int) -> None:
    vault = Vault(KEY)
    sealed = bytearray(vault.seal("secret value", column="c"))
    sealed[position] ^= 0x01
    with pytest.raises(VaultError):
        vault.open(bytes(sealed), column="c")


def test_truncated_value_does_not_open() -> None:
    with pytest.raises(VaultError):
        Vault(KEY).open(b"\x01short", column="c")


def test_blind_index_is_deterministic_keyed_and_per_column() -> None:
    vault = Vault(KEY)
    index = vault.blind_index("+8613800138000", column="member.phone")
    assert index == vault.blind_index("+8613800138000", column="member.phone")
    assert index != Vault(bytes(32)).blind_index("+8613800138000", column="member.phone")
    assert index != vault.blind_index("+8613800138000", column="other")
    assert "13800138000" not in index


def test_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Vault(b"short")


def test_development_key_file_is_created_once_and_private(tmp_path: Path) -> None:
    settings = load_settings(environ={}, data_dir=str(tmp_path))
    first = load_vault(settings)
    key_file = tmp_path / "data.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    sealed = first.seal("kept", column="c")
    assert load_vault(settings).open(sealed, column="c") == "kept"


def test_configured_key_is_used(tmp_path: Path) -> None:
    key = base64.b64encode(KEY).decode()
    settings = load_settings(environ={}, data_dir=str(tmp_path), security={"data_key": key})
    sealed = Vault(KEY).seal("x", column="c")
    assert load_vault(settings).open(sealed, column="c") == "x"
    assert not (tmp_path / "data.key").exists()


def test_broken_key_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "data.key").write_text("not a key")
    with pytest.raises(ConfigError, match="data key file"):
        load_vault(load_settings(environ={}, data_dir=str(tmp_path)))

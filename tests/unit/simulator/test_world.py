"""The World: the demo world's shape, its persistence (0600 files) and JSON round trip."""

import stat

import pytest

from hub.simulator.demo import WORLD_FILE, demo_world
from hub.simulator.world import Keyword, KeywordType, load_world, save_world
from hub.wechat import credentials
from hub.wechat.primitives import load_certificate, load_private_key, load_public_key


def test_demo_world_is_generated_once_and_kept_with_owner_only_files(tmp_path, world):
    directory = tmp_path / "simulator"
    first = demo_world(directory)
    assert demo_world(directory) == first
    files = sorted(path.name for path in directory.iterdir())
    assert WORLD_FILE in files
    assert f"merchant_{first.merchants[0].mchid}_private_key.pem" in files
    assert f"platform_certificate_{first.platform.serial_no}.pem" in files
    for path in directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    # Random secrets: another directory, another world.
    assert demo_world(tmp_path / "other").mini_programs[0].secret != first.mini_programs[0].secret


def test_the_demo_world_passes_the_hubs_credential_checks(world):
    app, merchant, shop, corp = (
        world.mini_programs[0],
        world.merchants[0],
        world.shops[0],
        world.corps[0],
    )
    credentials.check_appid(app.appid)
    credentials.check_original_id(app.original_id)
    credentials.check_app_secret(app.secret)
    credentials.check_push_token(app.push_token)
    credentials.check_encoding_aes_key(app.push_aes_key or "")
    credentials.check_mchid(merchant.mchid)
    credentials.check_serial(merchant.merchant_serial_no)
    credentials.check_pay_api_key(merchant.api_v3_key)
    credentials.check_pay_api_key(merchant.api_v2_key)
    credentials.check_rsa_private_key(merchant.merchant_private_key_pem or "")
    credentials.check_rsa_public_key(merchant.merchant_public_key_pem)
    credentials.check_public_key_id(world.platform.public_key_id)
    credentials.check_appid(shop.appid)
    credentials.check_encoding_aes_key(shop.push_aes_key)
    credentials.check_corpid(corp.corpid)
    credentials.check_push_token(corp.callback_token)
    credentials.check_encoding_aes_key(corp.callback_aes_key)
    certificate = load_certificate(world.platform.certificate_pem)
    platform_public = load_public_key(world.platform.public_key_pem)
    assert certificate.public_key.public_numbers() == platform_public.public_numbers()
    assert load_private_key(world.platform.private_key_pem).public_key().public_numbers() == (
        platform_public.public_numbers()
    )
    assert [staff.userid for staff in corp.staff] == ["guide01", "guide02", "guide03"]
    assert {t.title for t in world.templates} == {
        "支付成功通知",
        "积分变动提醒",
        "优惠券到账通知",
        "会员升级通知",
    }


def test_a_world_round_trips_through_json(tmp_path, world):
    path = tmp_path / "world.json"
    save_world(world, path)
    assert load_world(path) == world
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_secrets_stay_out_of_repr(world):
    text = repr(world)
    assert world.mini_programs[0].secret not in text
    assert world.merchants[0].api_v3_key not in text
    assert "PRIVATE KEY" not in text


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("thing1", KeywordType.THING),
        ("character_string12", KeywordType.CHARACTER_STRING),
        ("phone_number3", KeywordType.PHONE_NUMBER),
        ("enum2", KeywordType.ENUM),
    ],
)
def test_keyword_types_come_from_their_names(name, kind):
    assert Keyword(name=name).type is kind


def test_a_keyword_of_no_known_type_is_refused():
    with pytest.raises(ValueError, match="colour1"):
        Keyword(name="colour1")

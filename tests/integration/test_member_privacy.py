"""Phone numbers are sealed at rest: no table holds one in plain text, yet lookups work."""

from typing import Any

import pytest
from tortoise.context import get_current_context

from hub import db
from hub.errors import AlreadyExistsError
from hub.services.audit import Actor
from hub.services.brands import create_brand
from hub.services.members import create_member, find_member_by_phone, member_phone
from hub.settings import Settings
from hub.vault import load_vault

PHONE_FORMS = ("13800138000", "+8613800138000", "8613800138000")


async def every_value_in_every_table(settings: Settings) -> list[Any]:
    context = get_current_context()
    assert context is not None
    assert context.apps is not None
    values: list[Any] = []
    for model in context.apps.get_models_iterable():
        rows = await db.connection().execute_query_dict(f'SELECT * FROM "{model._meta.db_table}"')
        for row in rows:
            values.extend(row.values())
    return values


def contains(value: Any, needle: str) -> bool:
    if isinstance(value, bytes | bytearray | memoryview):
        return needle.encode() in bytes(value)
    return needle in str(value)


async def test_phone_is_never_stored_in_plain_text(db: None, settings: Settings) -> None:
    vault = load_vault(settings)
    brand = await create_brand("acme", "Acme", Actor.cli())
    await create_member(brand, vault, phone="138 0013 8000")

    values = await every_value_in_every_table(settings)

    assert values
    for form in PHONE_FORMS:
        assert not [value for value in values if contains(value, form)], form


async def test_member_is_found_by_phone_in_any_format(db: None, settings: Settings) -> None:
    vault = load_vault(settings)
    brand = await create_brand("acme", "Acme", Actor.cli())
    member = await create_member(brand, vault, phone="13800138000")

    found = await find_member_by_phone(brand, vault, "+86 138-0013-8000")

    assert found is not None
    assert found.id == member.id
    assert member_phone(found, vault) == "+8613800138000"
    assert len(member.code) == 12


async def test_phone_lookups_stay_within_the_brand(db: None, settings: Settings) -> None:
    vault = load_vault(settings)
    acme = await create_brand("acme", "Acme", Actor.cli())
    other = await create_brand("other", "Other", Actor.cli())
    await create_member(acme, vault, phone="13800138000")

    assert await find_member_by_phone(other, vault, "13800138000") is None
    same_phone_elsewhere = await create_member(other, vault, phone="13800138000")
    assert same_phone_elsewhere.brand_id == other.id


async def test_a_phone_belongs_to_one_member_of_a_brand(db: None, settings: Settings) -> None:
    vault = load_vault(settings)
    brand = await create_brand("acme", "Acme", Actor.cli())
    await create_member(brand, vault, phone="13800138000")

    with pytest.raises(AlreadyExistsError):
        await create_member(brand, vault, phone="+86 13800138000")

"""Members: creation, locking, and the identities they are found by (phone, unionid, code).

Phone numbers are normalised to E.164, stored sealed, and found through a keyed blind index.
A member merged into another keeps its row (and code) with `merged_into` set: every lookup and
every lock follows it to the survivor.
"""

import re
import secrets
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from hub.errors import AlreadyExistsError, InvalidValueError, NotFoundError
from hub.models.brand import Brand, Store
from hub.models.member import Member
from hub.services import levels
from hub.services.fields import parse_id
from hub.services.member_locks import resolve_member
from hub.services.programme import load_programme
from hub.vault import Vault

PHONE_COLUMN = "member.phone"
# Member codes are 12 digits without a leading zero: easy to read out and to type at a till.
_CODE_DIGITS = 12
_CODE_ATTEMPTS = 5
_E164_MAX_DIGITS = 15
_E164_MIN_DIGITS = 6
_SEPARATORS = re.compile(r"[\s\-()]")
_CN_MOBILE = re.compile(r"1[0-9]{10}")
# ASCII digits only: str.isdigit() also takes superscripts (int() refuses them) and other
# scripts' digits (int() reads them), neither of which is a phone number.
_DIGITS = re.compile(r"[0-9]+")
# Member ids are 32-bit: a larger number is no id (and would overflow PostgreSQL's integer).
MAX_INT_ID = 2**31 - 1


def normalize_phone(number: str, country_code: str = "86") -> str:
    """The number in E.164 form (+8613800138000); WeChat gives the number and country apart.

    Raises:
        InvalidValueError: not a phone number (or not a mainland mobile number for +86).
    """
    compact = _SEPARATORS.sub("", number)
    if compact.startswith("+"):
        digits = compact[1:]
    else:
        country = str(country_code).lstrip("+")
        if not _DIGITS.fullmatch(country) or not _DIGITS.fullmatch(compact):
            raise InvalidValueError("phone", "must contain digits only")
        digits = country + compact
    if not _DIGITS.fullmatch(digits) or not _E164_MIN_DIGITS <= len(digits) <= _E164_MAX_DIGITS:
        raise InvalidValueError("phone", "is not a valid phone number")
    if digits.startswith("86") and not _CN_MOBILE.fullmatch(digits[2:]):
        raise InvalidValueError("phone", "is not a mainland China mobile number")
    return "+" + digits


def phone_index(vault: Vault, phone: str) -> str:
    return vault.blind_index(phone, column=PHONE_COLUMN)


async def create_member(
    brand: Brand,
    vault: Vault,
    *,
    phone: str | None = None,
    unionid: str | None = None,
    home_store: Store | None = None,
    invited_by: Member | None = None,
) -> Member:
    """Create a member of the brand with a fresh member code, on the default card.

    Raises:
        InvalidValueError: the phone number is not valid.
        AlreadyExistsError: the phone number or unionid already belongs to a member.
    """
    normalised = normalize_phone(phone) if phone else None
    programme = await load_programme(brand.id)
    for _ in range(_CODE_ATTEMPTS):
        code = str(secrets.randbelow(9 * 10 ** (_CODE_DIGITS - 1)) + 10 ** (_CODE_DIGITS - 1))
        if await Member.exists(brand=brand, code=code):
            continue
        try:
            async with in_transaction():
                member = await Member.create(
                    brand=brand,
                    code=code,
                    unionid=unionid,
                    phone_sealed=vault.seal(normalised, column=PHONE_COLUMN)
                    if normalised
                    else None,
                    phone_index=phone_index(vault, normalised) if normalised else None,
                    home_store=home_store,
                    invited_by=invited_by,
                )
                if await levels.enrol(member, programme, datetime.now(UTC)):
                    await member.save(update_fields=levels.LEVEL_FIELDS)
                return member
        except IntegrityError:
            if not await Member.exists(brand=brand, code=code):
                raise AlreadyExistsError(
                    "member_exists", "the phone number or unionid already belongs to a member"
                ) from None
    raise AlreadyExistsError("member_code_exhausted", "could not draw a free member code")


async def find_member_by_phone(brand: Brand, vault: Vault, phone: str) -> Member | None:
    """The brand's member with this phone number. Raises InvalidValueError for a bad number."""
    return await Member.get_or_none(
        brand=brand, phone_index=phone_index(vault, normalize_phone(phone))
    )


def member_phone(member: Member, vault: Vault) -> str | None:
    """The member's phone number in E.164 form, opened from its sealed column."""
    if member.phone_sealed is None:
        return None
    return vault.open(bytes(member.phone_sealed), column=PHONE_COLUMN)


async def find_member(brand_id: int, vault: Vault, *, by: str, value: str) -> Member:
    """A member of the brand by "id", "code", "phone" or "unionid" (following merges).

    Raises:
        NotFoundError: no such member (an id that is not a number names none either).
        InvalidValueError: an unknown key or a malformed phone number.
    """
    if by == "id":
        member_id = parse_id(value, MAX_INT_ID)
        if member_id is None:
            raise NotFoundError("member_not_found", "no member with this id")
        member = await Member.get_or_none(brand_id=brand_id, id=member_id)
    elif by == "code":
        member = await Member.get_or_none(brand_id=brand_id, code=value)
    elif by == "phone":
        index = phone_index(vault, normalize_phone(value))
        member = await Member.get_or_none(brand_id=brand_id, phone_index=index)
    elif by == "unionid":
        member = await Member.get_or_none(brand_id=brand_id, unionid=value)
    else:
        raise InvalidValueError("by", "must be id, code, phone or unionid")
    if member is None:
        raise NotFoundError("member_not_found", f"no member with this {by}")
    return await resolve_member(member)

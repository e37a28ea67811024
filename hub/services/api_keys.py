"""Brand-scoped API keys: issued once in full, stored only as a hash."""

import hashlib
import secrets
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from hub.models.api_key import ApiKey
from hub.models.brand import Brand
from hub.services import audit
from hub.services.audit import Actor
from hub.services.fields import check_name

KEY_PREFIX = "wxk_"
# 24 random bytes (192 bits) for the secret part; 6 for the public id shown in lists.
_SECRET_BYTES = 24
_ID_BYTES = 6


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    # The full key: shown to the operator once, never stored.
    plaintext: str


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


async def create_api_key(brand: Brand, name: str, actor: Actor) -> IssuedApiKey:
    """Issue a new key for the brand. Raises InvalidValueError for a bad name."""
    name = check_name(name)
    public_id = KEY_PREFIX + secrets.token_hex(_ID_BYTES)
    plaintext = f"{public_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    async with in_transaction():
        api_key = await ApiKey.create(
            brand=brand, name=name, prefix=public_id, key_hash=hash_key(plaintext)
        )
        await audit.record(
            actor,
            "api_key.create",
            "api_key",
            api_key.id,
            brand_id=brand.id,
            after={"name": name, "prefix": public_id},
        )
    return IssuedApiKey(api_key, plaintext)

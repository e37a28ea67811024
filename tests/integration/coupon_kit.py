"""Coupon templates, coupons and their QR tokens for the coupon tests, made through the services."""

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.models.brand import Brand
from hub.models.coupon import Coupon, CouponTemplate, IssueSource
from hub.models.member import Member
from hub.services.audit import Actor
from hub.services.coupon_templates import parse_template, save_template
from hub.services.coupon_tokens import make_token
from hub.services.coupons import Issuance, issue_coupon
from hub.vault import Vault

ACTOR = Actor.cli()
_keys = itertools.count(1)


async def make_template(
    brand: Brand, code: str, kind: str = "cash_off", **spec: Any
) -> CouponTemplate:
    """A template of the brand; by default ¥10 off, valid 30 days from issue."""
    defaults: dict[str, Any] = {"name": code.title(), "kind": kind, "valid_days": 30}
    if kind == "cash_off":
        defaults["face_value_fen"] = 1_000
    if kind == "gift":
        defaults["gift_name"] = "A cup of tea"
    if kind == "count_card":
        defaults["uses"] = 3
    if "valid_until" in spec:
        del defaults["valid_days"]
    template, _ = await save_template(
        brand.id, parse_template({"code": code} | defaults | spec), ACTOR
    )
    return template


async def give(template: CouponTemplate, member: Member, key: str | None = None) -> Coupon:
    """A coupon of the template for the member (a fresh issue key unless one is given)."""
    issuance = Issuance(template.id, member.id, key or f"test-{next(_keys)}", IssueSource.CLI)
    coupon, _ = await issue_coupon(issuance, ACTOR, datetime.now(UTC))
    return coupon


def qr(vault: Vault, coupon_id: int, ttl_s: int = 60, at: datetime | None = None) -> str:
    """The token the member's QR code shows, made `at` (default now) and valid `ttl_s`."""
    made = at or datetime.now(UTC)
    return make_token(vault, coupon_id, made + timedelta(seconds=ttl_s))

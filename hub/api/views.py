"""How members, orders and ledger rows look in API answers (times in China's time zone)."""

from datetime import datetime
from typing import Any

from hub.dates import BEIJING
from hub.models.member import Member
from hub.models.order import Order, Refund
from hub.models.points import PointsEntry
from hub.models.stored_value import StoredValueEntry
from hub.services.card_view import CardView
from hub.services.members import member_phone
from hub.services.programme import CardInfo, LevelInfo
from hub.vault import Vault

# 138****8000: enough for the customer to recognise their number.
_SHOWN_HEAD, _SHOWN_TAIL = 3, 4


def moment(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(BEIJING).isoformat()


def masked_phone(phone: str | None) -> str | None:
    """+8613800138000 → 138****8000 (other countries keep their code)."""
    if phone is None:
        return None
    national = phone.removeprefix("+86")
    hidden = len(national) - _SHOWN_HEAD - _SHOWN_TAIL
    return national[:_SHOWN_HEAD] + "*" * max(hidden, 0) + national[-_SHOWN_TAIL:]


def level_json(level: LevelInfo | None) -> dict[str, Any] | None:
    if level is None:
        return None
    return {
        "code": level.code,
        "name": level.name,
        "rank": level.rank,
        "discount_percent": level.discount_percent,
        "points_multiplier_percent": level.points_multiplier_percent,
    }


def card_json(card: CardInfo | None) -> dict[str, Any] | None:
    if card is None:
        return None
    return {
        "code": card.code,
        "name": card.name,
        "kind": card.kind.value,
        "price_fen": card.price_fen,
        "validity_days": card.validity_days,
    }


def card_view_json(member: Member, view: CardView) -> dict[str, Any]:
    return {
        "card": card_json(view.card),
        "card_expires_at": moment(member.card_expires_at),
        "level": level_json(view.level),
        "level_valid_until": moment(member.level_valid_until),
        "next_level": level_json(view.next_level),
        # Any one rule reached is enough for the next level.
        "progress": [
            {"rule": p.rule, "required": p.required, "current": p.current, "months": p.months}
            for p in view.progress
        ],
    }


def balances_json(member: Member) -> dict[str, Any]:
    return {
        "points_balance": member.points_balance,
        "stored_value": {
            "principal_fen": member.sv_principal_fen,
            "bonus_fen": member.sv_bonus_fen,
            "total_fen": member.sv_principal_fen + member.sv_bonus_fen,
        },
        "total_spend_fen": member.total_spend_fen,
        "paid_orders_count": member.paid_orders_count,
        "invite_count": member.invite_count,
    }


def member_json(
    member: Member, view: CardView, vault: Vault, *, full_phone: bool
) -> dict[str, Any]:
    """A member as the open API (full phone) or the member themselves (masked) see it."""
    phone = member_phone(member, vault)
    return (
        {
            "id": member.id,
            "code": member.code,
            "unionid": member.unionid if full_phone else None,
            "phone": phone if full_phone else masked_phone(phone),
            "home_store_id": member.home_store_id,
            "guide_id": member.guide_id,
            "birthday": member.birthday.isoformat() if member.birthday else None,
            "created_at": moment(member.created_at),
        }
        | balances_json(member)
        | card_view_json(member, view)
    )


def order_json(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "out_trade_no": order.out_trade_no,
        "kind": order.kind.value,
        "source": order.source.value,
        "status": order.status.value,
        "store_id": order.store_id,
        "member_id": order.member_id,
        "guide_id": order.guide_id,
        "description": order.description,
        "original_fen": order.original_fen,
        "discount_fen": order.discount_fen,
        "coupon_id": order.coupon_id,
        "coupon_discount_fen": order.coupon_discount_fen,
        "amount_fen": order.amount_fen,
        "stored_value_fen": order.stored_value_fen,
        "wechat_fen": order.wechat_fen,
        "refunded_fen": order.refunded_fen,
        "recharge_bonus_fen": order.recharge_bonus_fen,
        "points_earned": order.points_earned,
        "external_id": order.external_id,
        "created_at": moment(order.created_at),
        "expires_at": moment(order.expires_at),
        "paid_at": moment(order.paid_at),
    }


def refund_json(refund: Refund) -> dict[str, Any]:
    return {
        "out_refund_no": refund.out_refund_no,
        "status": refund.status.value,
        "refund_fen": refund.refund_fen,
        "stored_value_fen": refund.stored_value_fen,
        "wechat_fen": refund.wechat_fen,
        "reason": refund.reason,
        "created_at": moment(refund.created_at),
        "settled_at": moment(refund.settled_at),
    }


def points_entry_json(entry: PointsEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind.value,
        "delta": entry.delta,
        "requested_delta": entry.requested_delta,
        "balance_after": entry.balance_after,
        "store_id": entry.store_id,
        "reason": entry.reason,
        "expires_at": moment(entry.expires_at),
        "created_at": moment(entry.created_at),
    }


def stored_value_entry_json(entry: StoredValueEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind.value,
        "principal_delta": entry.principal_delta,
        "bonus_delta": entry.bonus_delta,
        "principal_after": entry.principal_after,
        "bonus_after": entry.bonus_after,
        "store_id": entry.store_id,
        "reason": entry.reason,
        "created_at": moment(entry.created_at),
    }

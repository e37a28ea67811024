"""The route table: HTTP routes, and the event handlers of every callback.

The handlers/ modules register their event handlers when imported; this is the only module
that imports handlers/.
"""

from aiohttp import web

from handlers import channels, mini_program, wechat_pay, wecom
from hub.api import (
    health,
    mp_coupons,
    mp_members,
    mp_orders,
    open_audit,
    open_coupons,
    open_members,
    open_orders,
    open_reports,
    staff_api,
    staff_coupons,
    store_codes,
)
from hub.callbacks.pipeline import EVENTS, EventTable

# appids, mchids and corpids are short and alphanumeric; anything else is not a route (404).
ACCOUNT = "{account:[0-9A-Za-z]{1,32}}"


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", health.metrics)
    app.router.add_post(f"/callbacks/wechatpay/{ACCOUNT}", wechat_pay.notification_v3)
    app.router.add_post(f"/callbacks/wechatpay/{ACCOUNT}/v2", wechat_pay.notification_v2)
    for prefix, module in (
        (f"/callbacks/miniprogram/{ACCOUNT}", mini_program),
        (f"/callbacks/channels/{ACCOUNT}", channels),
        (f"/callbacks/wecom/{ACCOUNT}", wecom),
    ):
        app.router.add_get(prefix, module.verify_url)
        app.router.add_post(prefix, module.push)
    _mini_program_api(app.router)
    _open_api(app.router)
    _staff_api(app.router)


def _mini_program_api(router: web.UrlDispatcher) -> None:
    """The brand's mini-program, as the logged-in member (docs/api.md)."""
    mp = "/api/mp/v1"
    router.add_post(f"{mp}/login", mp_members.log_in)
    router.add_get(f"{mp}/me", mp_members.show_me)
    router.add_post(f"{mp}/me/phone", mp_members.bind_phone)
    router.add_get(f"{mp}/me/points", mp_members.list_points)
    router.add_get(f"{mp}/me/stored-value", mp_members.list_stored_value)
    router.add_get(f"{mp}/me/orders", mp_members.list_orders)
    router.add_put(f"{mp}/me/birthday", mp_members.set_birthday)
    router.add_get(f"{mp}/me/coupons", mp_coupons.list_coupons)
    router.add_post(f"{mp}/me/coupons/{{coupon_id}}/qr-token", mp_coupons.issue_qr_token)
    router.add_get(f"{mp}/stores/{{store_id}}", mp_orders.show_store)
    router.add_post(f"{mp}/orders", mp_orders.create_order)
    router.add_get(f"{mp}/orders/{{out_trade_no}}", mp_orders.show_order)
    router.add_get(f"{mp}/recharge-tiers", mp_orders.list_recharge_tiers)
    router.add_post(f"{mp}/recharges", mp_orders.create_recharge)
    router.add_get(f"{mp}/cards", mp_orders.list_cards)
    router.add_post(f"{mp}/cards/{{code}}/purchase", mp_orders.buy_card)


def _open_api(router: web.UrlDispatcher) -> None:
    """The brand's own systems (POS, CRM), with a brand API key (docs/api.md)."""
    api = "/api/v1"
    member = f"{api}/members/{{member_id}}"
    router.add_get(f"{api}/members", open_members.look_up_member)
    router.add_get(member, open_members.show_member)
    router.add_get(f"{member}/points", open_members.list_member_points)
    router.add_get(f"{member}/stored-value", open_members.list_member_stored_value)
    router.add_post(f"{member}/points/adjustments", open_members.adjust_points)
    router.add_post(f"{member}/points/redemptions", open_members.redeem_points)
    router.add_post(f"{api}/orders", open_orders.post_offline_order)
    router.add_get(f"{api}/orders/{{out_trade_no}}", open_orders.show_order)
    router.add_post(f"{api}/orders/{{out_trade_no}}/refunds", open_orders.refund_order)
    router.add_get(f"{api}/audit", open_audit.list_audit)
    router.add_get(f"{member}/coupons", open_coupons.list_member_coupons)
    router.add_post(f"{api}/coupons", open_coupons.issue_coupon)
    template = f"{api}/coupon-templates/{{template_id}}"
    router.add_get(f"{api}/coupon-templates", open_coupons.list_templates)
    router.add_post(f"{api}/coupon-templates", open_coupons.put_template)
    router.add_get(template, open_coupons.show_template)
    router.add_get(f"{template}/report", open_coupons.show_template_report)
    store_codes.add_routes(router)
    open_reports.add_routes(router)


def _staff_api(router: web.UrlDispatcher) -> None:
    """Store staff and head office, with a staff token (docs/api.md)."""
    staff = "/api/staff/v1"
    router.add_get(f"{staff}/me", staff_api.show_me)
    router.add_get(f"{staff}/members", staff_api.look_up_member)
    router.add_post(f"{staff}/members/{{member_id}}/points/adjustments", staff_api.adjust_points)
    router.add_get(f"{staff}/staff", staff_api.list_staff)
    router.add_post(f"{staff}/staff/{{staff_id}}/token", staff_api.issue_token)
    _staff_coupons(router, staff)


def _staff_coupons(router: web.UrlDispatcher, staff: str) -> None:
    """Redemption at the till, and head office's templates, issuance and reports."""
    redemptions = f"{staff}/redemptions"
    router.add_post(redemptions, staff_coupons.redeem)
    router.add_post(f"{redemptions}/batch", staff_coupons.redeem_batch)
    router.add_post(f"{redemptions}/{{redemption_id}}/undo", staff_coupons.undo_redemption)
    router.add_get(f"{staff}/stores/{{store_id}}/redemptions", staff_coupons.list_store_redemptions)
    template = f"{staff}/coupon-templates/{{template_id}}"
    router.add_get(f"{staff}/coupon-templates", staff_coupons.list_templates)
    router.add_post(f"{staff}/coupon-templates", staff_coupons.put_template)
    router.add_get(template, staff_coupons.show_template)
    router.add_get(f"{template}/report", staff_coupons.show_template_report)
    router.add_post(f"{staff}/coupons", staff_coupons.issue_coupon)


def event_table() -> EventTable:
    """The event handlers, registered by the handlers/ modules imported above."""
    return EVENTS

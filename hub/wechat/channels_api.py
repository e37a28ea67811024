"""Channels (视频号) shop APIs (protocols §5.1).

Pushes only say what changed; details are fetched from here with the shop's own token.
"""

from typing import Any

from hub.wechat.miniprogram_api import StableTokenApi


class ChannelsShopApi(StableTokenApi):
    """The order and after-sale APIs of one Channels shop (appid + secret of the shop)."""

    async def order(self, order_id: str) -> dict[str, Any]:
        """The order's details (status, amounts, buyer openid/unionid…).

        Raises:
            WeChatApiError: e.g. an unknown order.
            DeliveryError: WeChat could not be reached.
        """
        # order_id exceeds 2^53 (§5.1): always sent and stored as a string.
        result = await self.call(
            "POST", "/channels/ec/order/get", payload={"order_id": order_id}, idempotent=True
        )
        order: dict[str, Any] = result["order"]
        return order

    async def aftersale_order(self, after_sale_order_id: str) -> dict[str, Any]:
        """An after-sale (refund/return) order's details.

        Raises:
            WeChatApiError: e.g. an unknown after-sale order.
            DeliveryError: WeChat could not be reached.
        """
        result = await self.call(
            "POST",
            "/channels/ec/aftersale/getaftersaleorder",
            payload={"after_sale_order_id": after_sale_order_id},
            idempotent=True,
        )
        aftersale: dict[str, Any] = result["after_sale_order"]
        return aftersale

"""What happens after a callback, end to end: WeChat pushes, the hub stores, workers call back."""

from collections.abc import Awaitable, Callable

from aiohttp.test_utils import TestServer
from arq.worker import Worker

from hub.keys import accounts_key
from hub.models.channels_order import ChannelsOrder, ChannelsOrderStatus
from hub.models.contact import ContactLink
from hub.models.inbox import InboxCallback, InboxStatus
from hub.models.member import Member
from hub.models.order import Order, OrderStatus
from hub.models.outbox import OutboxMessage, OutboxStatus
from hub.queue import TaskName
from hub.services.contacts import contact_state
from hub.services.orders import create_order
from hub.simulator.world import World
from tests.e2e.clients.conftest import control
from tests.e2e.workers.conftest import HubClient, Seeded, prepay

RunWorker = Callable[[], Awaitable[Worker]]


async def test_a_new_contact_is_welcomed_and_linked_to_its_member(
    seeded: Seeded,
    client: HubClient,
    simulator: TestServer,
    world: World,
    run_worker: RunWorker,
) -> None:
    corp = world.corps[0]
    wecom = client.app[accounts_key]
    corp_account = await wecom.wecom(corp.corpid)
    assert corp_account is not None
    way = await wecom.wecom_api(corp_account).add_contact_way(
        corp.staff[0].userid, contact_state(seeded.store.id, seeded.guide.id)
    )

    scanned = await control(
        simulator,
        "POST",
        "/_sim/wecom/scans",
        {"config_id": way.config_id, "user": "alice", "wait": True},
    )
    await run_worker()

    assert scanned["deliveries"][0]["status"] == "delivered"
    link = await ContactLink.get()
    assert (link.guide_id, link.store_id) == (seeded.guide.id, seeded.store.id)
    assert link.member_id == seeded.members["alice"].id
    alice = await Member.get(id=seeded.members["alice"].id)
    assert alice.guide_id == seeded.guide.id
    assert alice.home_store_id == seeded.store.id
    # The seeded welcome coupons' messages wait for the relay; the contact's follow-ups are done.
    contact_follow_ups = await OutboxMessage.filter(
        task__in=[TaskName.WELCOME_CONTACT.value, TaskName.LINK_CONTACT_MEMBER.value]
    )
    assert {m.status for m in contact_follow_ups} == {OutboxStatus.DONE}
    messages = await control(simulator, "GET", "/_sim/messages")
    assert seeded.guide.name in str(messages)  # the welcome names the guide


async def test_a_paid_shop_order_earns_points_once_details_are_fetched(
    seeded: Seeded, simulator: TestServer, world: World, run_worker: RunWorker
) -> None:
    placed = await control(
        simulator, "POST", "/_sim/shop/orders", {"user": "carol", "price_fen": 12_900, "wait": True}
    )
    order_id = str(placed["order"]["order_id"])
    await control(simulator, "POST", f"/_sim/shop/orders/{order_id}/pay", {"wait": True})

    await run_worker()
    await run_worker()  # a second run changes nothing

    order = await ChannelsOrder.get(order_id=order_id)
    assert order.status is ChannelsOrderStatus.PAID
    assert order.amount_fen == 12_900
    assert order.member_id == seeded.members["carol"].id
    assert (await Member.get(id=order.member_id)).points_balance == 129


async def test_a_store_payment_settles_through_the_real_notification(
    seeded: Seeded, client: HubClient, simulator: TestServer, world: World
) -> None:
    merchant = world.merchants[0]
    order = await create_order(
        seeded.store,
        2_500,
        mchid=merchant.mchid,
        appid=merchant.appid,
        member=seeded.members["bob"],
    )
    await prepay(client, world, order, "bob")

    paid = await control(
        simulator, "POST", f"/_sim/pay/orders/{order.out_trade_no}/pay", {"wait": True}
    )

    assert paid["deliveries"][0]["status"] == "delivered"
    settled = await Order.get(id=order.id)
    assert settled.status is OrderStatus.PAID
    assert (await InboxCallback.get()).status is InboxStatus.DONE
    assert (await Member.get(id=seeded.members["bob"].id)).points_balance == 25

"""The hub's callback URLs for the World's accounts (docs/callbacks.md), and their registration.

Both the emitter and an in-process simulator (`wxhub run`) send each account's pushes to
`<hub>/callbacks/<source>/<account id>`; Pay v2 notifications go to `…/<mchid>/v2`.
"""

from hub.simulator.context import Simulator
from hub.simulator.state import Source
from hub.simulator.world import World

# The hub's path segment of each source (hub/routes.py).
_SEGMENTS = {
    Source.WECHAT_PAY: "wechatpay",
    Source.MINI_PROGRAM: "miniprogram",
    Source.CHANNELS: "channels",
    Source.WECOM: "wecom",
}


def hub_callback_url(base_url: str, source: Source, account: str, *, pay_v2: bool = False) -> str:
    """Where the hub at `base_url` receives `account`'s callbacks of `source`."""
    url = f"{base_url.rstrip('/')}/callbacks/{_SEGMENTS[source]}/{account}"
    return f"{url}/v2" if pay_v2 else url


def world_accounts(world: World) -> list[tuple[Source, str]]:
    """Every account of the World with the source its pushes belong to."""
    return [
        *((Source.WECHAT_PAY, merchant.mchid) for merchant in world.merchants),
        *((Source.MINI_PROGRAM, app.appid) for app in world.mini_programs),
        *((Source.CHANNELS, shop.appid) for shop in world.shops),
        *((Source.WECOM, corp.corpid) for corp in world.corps),
    ]


def register_hub(sim: Simulator, base_url: str) -> dict[tuple[Source, str], str]:
    """Send every World account's pushes to the hub at `base_url`; returns the URLs set.

    The same as `PUT /_sim/callbacks` for each account (Pay orders keep their own notify_url).
    """
    urls = {
        (source, account): hub_callback_url(base_url, source, account)
        for source, account in world_accounts(sim.world)
    }
    sim.state.callback_urls.update(urls)
    return urls

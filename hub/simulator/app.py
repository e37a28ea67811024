"""The simulator application: WeChat's three hosts at one root, plus the control API.

api.weixin.qq.com (/cgi-bin, /sns, /wxa, /channels), qyapi.weixin.qq.com (/cgi-bin/gettoken,
/cgi-bin/externalcontact) and api.mch.weixin.qq.com (/v3) have no colliding paths, so the hub's
three base URLs can all point at the same http://host:port.
"""

import random
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from hub.simulator import (
    channels_api,
    control,
    inspection,
    miniprogram_api,
    pay_api,
    token_api,
    wecom_api,
)
from hub.simulator.context import FOLLOW_USER_PAGE_SIZE, SimClock, Simulator, simulator_key
from hub.simulator.delivery import DEADLINE_S, DeliveryEngine
from hub.simulator.faults import Faults
from hub.simulator.gateway import gateway_middleware
from hub.simulator.state import State
from hub.simulator.tokens import TokenStore
from hub.simulator.world import World

# WeChat's bodies are small; media uploads are not simulated.
_MAX_BODY_BYTES = 1024 * 1024


def create_simulator_app(
    world: World,
    *,
    time_scale: float = 1000.0,
    clock: Callable[[], float] = time.time,
    seed: int | None = None,
    deadline_s: float = DEADLINE_S,
    follow_user_page_size: int = FOLLOW_USER_PAGE_SIZE,
) -> web.Application:
    """Build the simulator for `world`.

    `time_scale` divides WeChat's retry schedules (1000: Pay's 15 s wait becomes 15 ms);
    `clock` (Unix seconds) is WeChat's time for tokens, codes, windows and signatures;
    `seed` makes fault rates reproducible; `deadline_s` is how long a push waits for the hub.

    Raises:
        ValueError: a non-positive time_scale, deadline or page size.
    """
    if time_scale <= 0 or deadline_s <= 0 or follow_user_page_size <= 0:
        raise ValueError("time_scale, deadline_s and follow_user_page_size must be positive")
    sim_clock = SimClock(clock)
    rng = random.Random(seed)  # noqa: S311 - fault rates, not secrets
    simulator = Simulator(
        world=world,
        state=State(),
        tokens=TokenStore(sim_clock),
        faults=Faults(rng),
        deliveries=DeliveryEngine(time_scale=time_scale, deadline_s=deadline_s, clock=sim_clock),
        clock=sim_clock,
        rng=rng,
        follow_user_page_size=follow_user_page_size,
    )
    app = web.Application(
        middlewares=[control.control_middleware, gateway_middleware],
        client_max_size=_MAX_BODY_BYTES,
    )
    app[simulator_key] = simulator
    app.cleanup_ctx.append(_delivery_engine)
    for module in (token_api, miniprogram_api, wecom_api, pay_api, channels_api):
        app.add_routes(module.routes)
    app.add_routes(control.routes)
    app.add_routes(inspection.routes)
    return app


async def _delivery_engine(app: web.Application) -> AsyncIterator[None]:
    engine = app[simulator_key].deliveries
    await engine.start()
    try:
        yield
    finally:
        await engine.close()

"""tortoise models, one module per aggregate. `MODEL_MODULES` is what the ORM loads."""

MODEL_MODULES = [
    "hub.models.brand",
    "hub.models.staff",
    "hub.models.membership",
    "hub.models.member",
    "hub.models.account",
    "hub.models.api_key",
    "hub.models.audit",
    "hub.models.inbox",
    "hub.models.outbox",
    "hub.models.order",
    "hub.models.points",
    "hub.models.stored_value",
    "hub.models.subscription",
    "hub.models.contact",
    "hub.models.channels_order",
    "hub.models.coupon",
]

"""tortoise models, one module per aggregate. `MODEL_MODULES` is what the ORM loads."""

MODEL_MODULES = [
    "hub.models.brand",
    "hub.models.staff",
    "hub.models.member",
    "hub.models.account",
    "hub.models.api_key",
    "hub.models.audit",
]

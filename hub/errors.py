"""The exception tree of wxhub.

    HubError
    ├── StartupError              a resource the process needs is unavailable (exit status 1)
    │   └── ConfigError           configuration missing or invalid; names the key (exit status 2)
    └── DomainError(reason)       a domain rule refused the operation; `reason` is a snake_case code
        ├── NotFoundError         the named thing does not exist (HTTP 404)
        ├── AlreadyExistsError    a unique thing exists already (HTTP 409)
        └── InvalidValueError     a value breaks a rule of its field (HTTP 400)

Only hub/middleware.py turns these into HTTP answers, and hub/cli/main.py into exit statuses.
"""


class HubError(Exception):
    """Base of every error wxhub raises on purpose."""


class StartupError(HubError):
    """A resource the process needs at start-up is unavailable (port, data dir, Redis)."""


class ConfigError(StartupError):
    """The configuration is missing a value or holds an invalid one."""


class DomainError(HubError):
    """A domain rule refused the operation."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class NotFoundError(DomainError):
    """The named thing does not exist (within the caller's brand)."""


class AlreadyExistsError(DomainError):
    """A thing that must be unique exists already."""


class InvalidValueError(DomainError):
    """A value breaks the rule of its field."""

    def __init__(self, field: str, message: str, reason: str = "invalid_value") -> None:
        super().__init__(reason, f"{field}: {message}")
        self.field = field

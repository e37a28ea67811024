"""The exception tree of wxhub.

    HubError
    ├── StartupError                  a resource the process needs is unavailable (exit status 1)
    │   └── ConfigError               configuration missing or invalid; names the key (exit 2)
    ├── CallbackRejected(reason)      an inbound callback failed checks: 4xx, recorded, no effect
    │   ├── SignatureError            missing, forged or unverifiable signature; SIGNTEST probe
    │   ├── TimestampError            timestamp missing, malformed, stale or in the future
    │   ├── DecryptionError           ciphertext truncated, not base64, bad padding, GCM tag
    │   ├── ReceiverMismatchError     decrypted message addressed to another appid/corpid
    │   ├── PayloadError              malformed XML/JSON or a required field missing
    │   ├── UnknownAccountError       no account with the appid/mchid/corpid of the URL
    │   └── BodyTooLargeError         body over the source's size limit
    ├── RetryLaterError               not yet possible (a refund before its payment): try again
    ├── DomainError(reason)           a domain rule refused the operation
    │   ├── NotFoundError             the named thing does not exist (HTTP 404)
    │   ├── AlreadyExistsError        a unique thing exists already (HTTP 409)
    │   ├── InvalidValueError         a value breaks a rule of its field (HTTP 400)
    │   ├── AuthenticationError       no, unknown or expired credentials (HTTP 401)
    │   └── PermissionDeniedError     known caller, not allowed to do this (HTTP 403)
    └── DeliveryError(retryable)      an outbound call failed; `retryable` says whether to retry
        ├── WeChatApiError            api.weixin / qyapi answered a non-zero errcode
        ├── PayApiError               api.mch.weixin answered an error status (or a bad signature)
        └── MessageValueError         a rendered message value breaks its keyword rule (not sent)

`reason` is a short snake_case code for logs, metrics and 4xx bodies. Only hub/middleware.py
turns these into HTTP answers, and hub/cli/main.py into exit statuses.
"""


class HubError(Exception):
    """Base of every error wxhub raises on purpose."""


class StartupError(HubError):
    """A resource the process needs at start-up is unavailable (port, data dir, Redis)."""


class ConfigError(StartupError):
    """The configuration is missing a value or holds an invalid one."""


class CallbackRejected(HubError):  # noqa: N818 - the name style.md gives this branch
    """An inbound callback failed verification or parsing; it changes nothing."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message or reason)
        self.reason = reason
        self.message = message or reason


class SignatureError(CallbackRejected):
    """The signature is missing, forged, made with an unknown key, or a SIGNTEST probe."""


class TimestampError(CallbackRejected):
    """The timestamp is missing, malformed, too old or too far in the future."""


class DecryptionError(CallbackRejected):
    """The ciphertext does not decrypt: truncated, not base64, bad padding, wrong key or tag."""


class ReceiverMismatchError(CallbackRejected):
    """The decrypted message is addressed to another appid/corpid than the account's."""


class PayloadError(CallbackRejected):
    """The body (or decrypted plaintext) is malformed or lacks a required field."""


class UnknownAccountError(CallbackRejected):
    """No account has the identifier given in the callback URL."""


class BodyTooLargeError(CallbackRejected):
    """The body exceeds the size limit of its callback source."""


class RetryLaterError(HubError):
    """The operation depends on something that has not happened yet; it is tried again later.

    Raised while processing a stored callback, it leaves the callback failed and retried on
    the inbox's schedule (e.g. a refund notice processed before its payment's notice).
    """


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


class AuthenticationError(DomainError):
    """The request carries no credentials, unknown ones, or expired ones."""


class PermissionDeniedError(DomainError):
    """The caller is known but may not do this (another brand's data, outside their scope)."""


class DeliveryError(HubError):
    """An outbound call (WeChat API, webhook) failed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class WeChatApiError(DeliveryError):
    """api.weixin.qq.com or qyapi.weixin.qq.com answered a non-zero errcode."""

    def __init__(self, errcode: int, errmsg: str, *, retryable: bool) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}", retryable=retryable)
        self.errcode = errcode
        self.errmsg = errmsg


class PayApiError(DeliveryError):
    """api.mch.weixin.qq.com answered an error status, or a response that fails verification."""

    def __init__(self, status: int, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(f"WeChat Pay API error {status} {code}: {message}", retryable=retryable)
        self.status = status
        self.code = code


class MessageValueError(DeliveryError):
    """A rendered subscription-message value breaks its keyword's rule: never sent, no retry."""

    def __init__(self, message_name: str, keyword: str, problem: str) -> None:
        super().__init__(f"message {message_name}: {keyword} {problem}", retryable=False)
        self.message_name = message_name
        self.keyword = keyword

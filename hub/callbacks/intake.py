"""The intake of one callback: read → verify → parse → record → process → answer.

Steps before "record" write nothing but a rejection row. A stored callback is answered
success whatever processing does (a failure is retried from the inbox); a callback that cannot
be stored is answered failure, so WeChat sends it again.
"""

import logging
import time
from abc import ABC, abstractmethod

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from redis.exceptions import RedisError
from tortoise.exceptions import BaseORMException

from hub.callbacks import inbox, pipeline
from hub.callbacks.envelope import Envelope
from hub.errors import (
    BodyTooLargeError,
    CallbackRejected,
    DecryptionError,
    DeliveryError,
    PayloadError,
    ReceiverMismatchError,
    RetryLaterError,
    SignatureError,
    TimestampError,
    UnknownAccountError,
)
from hub.keys import metrics_key, redis_key, vault_key
from hub.models.inbox import CallbackSource
from hub.request_id import current_request_id

log = logging.getLogger(__name__)

# Answers to refusals, by error type (protocols: any 4xx means "refused" to WeChat).
# What a database that cannot answer raises through tortoise (connection refused, lost, timed
# out): the callback is not stored, and WeChat is asked to send it again.
STORAGE_ERRORS: tuple[type[Exception], ...] = (BaseORMException, OSError, TimeoutError)
# Verification that needs the database (the account) or WeChat (certificates) may find either
# unable to answer.
_VERIFY_UNAVAILABLE: tuple[type[Exception], ...] = (DeliveryError, *STORAGE_ERRORS)
# Scheduling a retry writes the row and hands a job to Redis.
_RETRY_SCHEDULING_ERRORS: tuple[type[Exception], ...] = (*STORAGE_ERRORS, RedisError)

_STATUS: list[tuple[type[CallbackRejected], int]] = [
    (UnknownAccountError, 404),
    (BodyTooLargeError, 413),
    (SignatureError, 401),
    (TimestampError, 401),
    (DecryptionError, 400),
    (ReceiverMismatchError, 400),
    (PayloadError, 400),
]
_REASON_STATUS = {"unsupported_media_type": 415}
# WeChat's probes carry this reason; they are expected, so they are not warnings.
_QUIET_REASONS = frozenset({"signtest_probe"})
_STORE_FAILED = 503


class CallbackIntake(ABC):
    """How one source is read, verified, parsed and answered."""

    source: CallbackSource
    # Callback bodies are small; anything larger is refused before it is read in full.
    max_bytes = 64 * 1024

    @abstractmethod
    async def parse(self, request: web.Request, body: bytes) -> Envelope:
        """Resolve the account, verify and parse; raises CallbackRejected subclasses."""

    @abstractmethod
    def success(self) -> web.Response:
        """The answer WeChat takes as "received"."""

    @abstractmethod
    def failure(self, status: int, reason: str) -> web.Response:
        """The answer WeChat takes as "refused" or "try again"."""


def status_of(error: CallbackRejected) -> int:
    if error.reason in _REASON_STATUS:
        return _REASON_STATUS[error.reason]
    return next(status for kind, status in _STATUS if isinstance(error, kind))


async def receive(request: web.Request, intake: CallbackIntake) -> web.Response:
    """Take one callback through every step and answer WeChat in the source's format."""
    metrics = request.app[metrics_key]
    body = b""
    try:
        body = await read_body(request, intake.max_bytes)
        envelope = await intake.parse(request, body)
    except CallbackRejected as exc:
        return await reject(request, intake, exc, body)
    except _VERIFY_UNAVAILABLE as exc:
        # Verifying needed the database (the account) or WeChat (platform certificates), and
        # it did not answer: the callback may be genuine, so it is deferred — WeChat retries.
        log.warning("cannot verify a %s callback now: %s", intake.source.value, type(exc).__name__)
        metrics.callbacks.labels(intake.source.value, "verify_unavailable").inc()
        return intake.failure(_STORE_FAILED, "temporarily_unavailable")
    try:
        recorded = await inbox.record(envelope, request.app[vault_key])
    except STORAGE_ERRORS:
        # Not stored means not answered success: WeChat must send it again.
        log.exception("cannot store a %s callback for %s", intake.source.value, envelope.account)
        metrics.callbacks.labels(intake.source.value, "store_failed").inc()
        return intake.failure(_STORE_FAILED, "temporarily_unavailable")
    if recorded.duplicate:
        metrics.callbacks.labels(intake.source.value, "duplicate").inc()
        return intake.success()
    metrics.callbacks.labels(intake.source.value, "accepted").inc()
    await process_inline(request.app, envelope, recorded.inbox_id)
    return intake.success()


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    """The body, refused early if it is larger than `max_bytes`.

    Raises:
        BodyTooLargeError: declared or actual size above the limit.
    """
    if request.content_length is not None and request.content_length > max_bytes:
        raise BodyTooLargeError("body_too_large")
    chunks, size = [], 0
    try:
        while chunk := await request.content.readany():
            size += len(chunk)
            if size > max_bytes:
                raise BodyTooLargeError("body_too_large")
            chunks.append(chunk)
    except (HttpProcessingError, RequestPayloadError):
        # A Content-Encoding that does not decode, a broken chunked body.
        raise PayloadError("bad_encoding", "the body could not be read") from None
    return b"".join(chunks)


async def reject(
    request: web.Request, intake: CallbackIntake, error: CallbackRejected, body: bytes
) -> web.Response:
    """Answer a refusal, count it, log it and keep a rejection row (never a state change)."""
    status = status_of(error)
    source = intake.source.value
    request.app[metrics_key].callbacks_rejected.labels(source, error.reason).inc()
    level = logging.INFO if error.reason in _QUIET_REASONS else logging.WARNING
    log.log(
        level,
        "refused %s callback for %s: %s",
        source,
        request.match_info.get("account", "?"),
        error.reason,
        extra={"source": source, "reason": error.reason, "status": status},
    )
    try:
        await inbox.record_rejection(
            inbox.Rejection(
                source=intake.source,
                account=request.match_info.get("account", ""),
                reason=error.reason,
                status_code=status,
                request_id=current_request_id(),
                remote=request.remote,
                headers=dict(request.headers),
                body=body,
            )
        )
    except STORAGE_ERRORS:
        # The refusal stands even when it cannot be recorded.
        log.exception("cannot record the refusal of a %s callback", source)
    return intake.failure(status, error.reason)


async def process_inline(app: web.Application, envelope: Envelope, inbox_id: int) -> None:
    """Process a just-stored callback; on failure leave it to the retry job, logged."""
    source = envelope.source
    started = time.perf_counter()
    try:
        await pipeline.process(inbox_id, app[vault_key], app[redis_key], envelope=envelope)
    except RetryLaterError as exc:
        log.info("inbox %d waits: %s", inbox_id, exc, extra={"inbox_id": inbox_id})
        await _retry_later(app, inbox_id, exc)
    # The inline attempt's boundary: the callback is stored, so any failure is retried, not lost.
    except Exception as exc:
        log.exception(
            "processing inbox %d failed; it will be retried", inbox_id, extra={"inbox_id": inbox_id}
        )
        app[metrics_key].callbacks.labels(source.value, "failed").inc()
        await _retry_later(app, inbox_id, exc)
    finally:
        app[metrics_key].callback_processing.labels(source.value).observe(
            time.perf_counter() - started
        )


async def _retry_later(app: web.Application, inbox_id: int, error: BaseException) -> None:
    try:
        await pipeline.fail(inbox_id, error, app[redis_key])
    except _RETRY_SCHEDULING_ERRORS:
        # The row may not say when to retry: the retry_callbacks cron picks stuck rows up.
        log.exception("cannot schedule the retry of inbox %d", inbox_id)


class VerifiableIntake(CallbackIntake):
    """A source whose URL WeChat verifies with a GET before sending pushes."""

    @abstractmethod
    async def verify_url(self, request: web.Request) -> str:
        """The body proving the URL is ours; raises CallbackRejected subclasses."""


async def receive_verification(request: web.Request, intake: VerifiableIntake) -> web.Response:
    """Answer WeChat's URL verification (GET) with the echo, verbatim, or refuse it."""
    try:
        echo = await intake.verify_url(request)
    except CallbackRejected as exc:
        return await reject(request, intake, exc, b"")
    except STORAGE_ERRORS:
        log.exception("cannot verify the %s URL now", intake.source.value)
        return intake.failure(_STORE_FAILED, "temporarily_unavailable")
    # The echo exactly: no quotes, no BOM, no trailing newline (protocols §4.1).
    return web.Response(text=echo, content_type="text/plain")

"""Prometheus metrics of one process, in a registry of its own (scraped at /metrics)."""

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Request latencies we care about run from a millisecond (callbacks) to WeChat's 5 s deadline.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The process's instruments; each app gets its own so tests never share counters."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "wxhub_http_requests",
            "HTTP requests answered, by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "wxhub_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

        self.callbacks = Counter(
            "wxhub_callbacks",
            "Callbacks by source and result: accepted, duplicate, rejected, failed (processing)",
            ["source", "result"],
            registry=self.registry,
        )
        self.callbacks_rejected = Counter(
            "wxhub_callbacks_rejected",
            "Callbacks refused before storing, by source and reason",
            ["source", "reason"],
            registry=self.registry,
        )
        self.callback_processing = Histogram(
            "wxhub_callback_processing_seconds",
            "Time to process a stored callback inline (before answering WeChat)",
            ["source"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

"""Prometheus metrics of a service, at ``<prefix>metrics`` like JupyterHub's own ``/hub/metrics``.

Every request is counted once it is answered (`observe_request`, called by the handlers' base):
its latency by method, route and status code, and the body bytes it moved each way.  The route
label is the route's pattern (``/api/v1/uploads/{upload_id}``), never the raw path, so the
number of series stays bounded whatever clients send.  A service adds its own metrics (the
registry's stored blobs, the deployments' statuses) and refreshes its gauges at scrape time
(`ServiceApp.update_metrics`).

Reading the metrics needs JupyterHub's own ``read:metrics`` scope, as ``/hub/metrics`` does, so
one token scrapes the hub and every service; the hub's ``admin`` role holds it.
"""

from __future__ import annotations

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
)
from tornado.web import RequestHandler

#: What ``<prefix>metrics`` serves: ours and the process' own, not the default registry, where
#: the JupyterHub modules a service imports register the hub's metrics (always 0 here).
REGISTRY = CollectorRegistry()
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.register(_collector)

#: The scope that opens the metrics: JupyterHub's own, held by its ``admin`` role.
METRICS_SCOPE = "read:metrics"

#: The route label of requests that matched no route (answered 404 by the default handler).
UNMATCHED = "(unmatched)"

REQUEST_DURATION = Histogram(
    "mllab_request_duration_seconds",
    "Time to answer a request, by method, route pattern and status code; its _count is the number of requests.",
    ["method", "route", "code"],
    registry=REGISTRY,
)
REQUEST_BYTES = Counter(
    "mllab_request_bytes",
    "Bytes of request bodies received, by method and route pattern.",
    ["method", "route"],
    registry=REGISTRY,
)
RESPONSE_BYTES = Counter(
    "mllab_response_bytes",
    "Bytes of response bodies sent, by method and route pattern.",
    ["method", "route"],
    registry=REGISTRY,
)


def observe_request(handler: RequestHandler, route: str, bytes_in: int, bytes_out: int) -> None:
    """Record one answered request."""
    method = handler.request.method or ""
    route = route or UNMATCHED
    REQUEST_DURATION.labels(method, route, str(handler.get_status())).observe(handler.request.request_time())
    REQUEST_BYTES.labels(method, route).inc(bytes_in)
    RESPONSE_BYTES.labels(method, route).inc(bytes_out)

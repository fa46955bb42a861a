"""``deployments.endpoint``: the deployments' endpoints on an origin of their own.

With ``url`` set, the service reads the three ``DeploymentsApp.endpoint_*`` traits from its
rendered configuration file, its pod and Service expose the port ``endpoints``, the
NetworkPolicy admits anyone there (and still only the proxy and the hub on the API port), and
an Ingress may route the URL's host to it. Without ``url`` none of that is rendered.
"""

from __future__ import annotations

import kubernetes_validate
import pytest

from .conftest import KUBERNETES_VERSION, find, helm, render
from .test_services import Z2JH_PODS, deployments_app, matches

URL = "https://endpoints.ml.example.org/"
HOST = "endpoints.ml.example.org"
INGRESS = {"enabled": True, "ingressClassName": "nginx",
           "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
           "tls": [{"hosts": [HOST], "secretName": "mllab-endpoints-tls"}]}


def endpoint_values(**endpoint) -> dict:
    return {"deployments": {"endpoint": endpoint}}


@pytest.fixture(scope="module")
def origin(chart) -> list[dict]:
    """The chart with an endpoint origin and its Ingress."""
    return render(chart, endpoint_values(url=URL, ingress=INGRESS))


def container(objects: list[dict]) -> dict:
    return find(objects, "Deployment", "mllab-deployments")["spec"]["template"]["spec"]["containers"][0]


def service_ports(objects: list[dict]) -> dict[str, dict]:
    return {p["name"]: p for p in find(objects, "Service", "mllab-deployments")["spec"]["ports"]}


def rules_for_port(policy: dict, port: str) -> list[dict]:
    return [rule for rule in policy["spec"]["ingress"] if any(p["port"] == port for p in rule.get("ports") or [])]


def test_every_object_is_valid_kubernetes(origin):
    for obj in origin:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_service_reads_the_endpoint_traits(origin, tmp_path):
    app = deployments_app(origin, tmp_path)
    assert (app.endpoint_port, app.endpoint_ip, app.endpoint_url) == (8081, "0.0.0.0", URL)


def test_pod_and_service_expose_the_endpoint_port(origin):
    assert {"name": "endpoints", "containerPort": 8081} in container(origin)["ports"]
    assert service_ports(origin)["endpoints"] == {"name": "endpoints", "port": 8081, "targetPort": "endpoints",
                                                  "protocol": "TCP"}
    assert service_ports(origin)["http"]["port"] == 8080, "the API keeps its port"


def test_another_port(chart, tmp_path):
    objects = render(chart, endpoint_values(url=URL, port=9000))
    assert deployments_app(objects, tmp_path).endpoint_port == 9000
    assert {"name": "endpoints", "containerPort": 9000} in container(objects)["ports"]
    assert service_ports(objects)["endpoints"]["port"] == 9000


def test_network_policy_admits_anyone_to_the_endpoints_only(origin):
    policy = find(origin, "NetworkPolicy", "mllab-deployments")
    [endpoints] = rules_for_port(policy, "endpoints")
    assert "from" not in endpoints, "the ingress controller may run anywhere: every source"
    assert endpoints["ports"] == [{"port": "endpoints", "protocol": "TCP"}]
    # The API port is as closed as without the origin: the proxy and the hub only.
    [api] = rules_for_port(policy, "http")
    assert api["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert {name for name, labels in Z2JH_PODS.items()
            if any(matches(peer["podSelector"]["matchLabels"], labels) for peer in api["from"])} == {"proxy", "hub"}


def test_ingress_routes_the_url_host_to_the_endpoints(origin):
    ingress = find(origin, "Ingress", "mllab-endpoints")
    spec = ingress["spec"]
    assert ingress["metadata"]["annotations"] == INGRESS["annotations"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["rules"] == [{"host": HOST, "http": {"paths": [{
        "path": "/", "pathType": "Prefix",
        "backend": {"service": {"name": "mllab-deployments", "port": {"name": "endpoints"}}}}]}}]
    assert spec["tls"] == INGRESS["tls"]


def test_ingress_is_optional(chart):
    objects = render(chart, endpoint_values(url=URL))
    assert "endpoints" in service_ports(objects)
    assert not [o for o in objects if o["kind"] == "Ingress"]


def test_without_url_nothing_of_the_origin_is_rendered(chart, tmp_path):
    objects = render(chart, {})
    app = deployments_app(objects, tmp_path)
    assert (app.endpoint_port, app.endpoint_url) == (0, "")
    config = find(objects, "ConfigMap", "mllab-deployments")["data"]["deployments.json"]
    assert "endpoint_" not in config
    assert [p["name"] for p in container(objects)["ports"]] == ["http"]
    assert list(service_ports(objects)) == ["http"]
    assert not rules_for_port(find(objects, "NetworkPolicy", "mllab-deployments"), "endpoints")
    assert not [o for o in objects if o["kind"] == "Ingress"]


def test_ingress_without_url_is_refused_saying_what_is_missing(chart):
    needs = r"deployments\.endpoint\.ingress\.enabled needs deployments\.endpoint\.url"
    with pytest.raises(helm.HelmError, match=needs):
        render(chart, endpoint_values(ingress={"enabled": True}))


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ({"url": "endpoints.ml.example.org"}, "at '/deployments/endpoint/url'"),
        ({"url": "https://ml.example.org/endpoints/"}, "at '/deployments/endpoint/url'"),
        ({"port": 8080}, "at '/deployments/endpoint/port'"),
        ({"port": 80}, "at '/deployments/endpoint/port'"),
        ({"ingress": {"className": "nginx"}}, "additional properties 'className' not allowed"),
        ({"ingress": {"tls": [{"secret": "x"}]}}, "additional properties 'secret' not allowed"),
    ],
    ids=["no-scheme", "with-path", "api-port", "privileged-port", "z2jh-key-name", "tls-typo"],
)
def test_schema_refuses_bad_endpoint_values(chart, endpoint, message):
    with pytest.raises(helm.HelmValuesError) as raised:
        chart.validate_schema(endpoint_values(**endpoint))
    assert message in str(raised.value)


def test_schema_accepts_an_endpoint_origin(chart):
    chart.validate_schema(endpoint_values(url=URL, port=8081, ingress=INGRESS))
    chart.validate_schema(endpoint_values(url="http://endpoints.ml.example.org:8443"))

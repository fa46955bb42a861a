"""helm/mllab rendered, linted and checked against its schema by Helm's own SDK, and every
rendered object validated against the Kubernetes API schemas.

z2jh's templates are not rendered: the dependency cannot be fetched here (no network to
hub.jupyter.org), which is also the one thing lint reports.
"""

from __future__ import annotations

import kubernetes_validate
import pytest

from .conftest import CHART, KUBERNETES_VERSION, PRODUCTION_VALUES, find, helm, load_yaml, render


def test_lint_reports_only_the_missing_z2jh_dependency():
    result = helm.lint(str(CHART))
    assert result["errors"] == []
    assert result["messages"] == [{
        "severity": 2,
        "path": str(CHART),
        "error": "chart directory is missing these dependencies: jupyterhub",
    }]


def test_every_object_is_valid_kubernetes(chart, install):
    name, values = install
    objects = render(chart, values)
    assert len(objects) >= 10, f"{name}: only {len(objects)} objects rendered"
    for obj in objects:
        # strict: an unknown or misspelt field is an error, as the API server's own validation.
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_bundled_or_external_backing_services(chart):
    default = {(o["kind"], o["metadata"]["name"]) for o in render(chart, {})}
    assert {("StatefulSet", "mllab-postgresql"), ("StatefulSet", "mllab-minio"),
            ("Secret", "mllab-postgresql"), ("Secret", "mllab-minio")} <= default
    production = render(chart, load_yaml(PRODUCTION_VALUES))
    names = {o["metadata"]["name"] for o in production}
    assert not names & {"mllab-postgresql", "mllab-minio"}, "external PostgreSQL and S3 need no bundled server"
    env = {e["name"]: e for e in find(production, "Deployment", "mllab-registry")["spec"]["template"]["spec"]
           ["containers"][0]["env"]}
    assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "mllab-db", "key": "password"}
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {"name": "mllab-s3", "key": "accessKeyId"}


def test_generated_secrets_are_random(chart):
    """No default password: each render (a fresh install) makes new ones."""
    first, second = (find(render(chart, {}), "Secret", "mllab-postgresql")["data"]["password"] for _ in range(2))
    assert first != second


def test_external_postgresql_without_host_is_refused_with_its_name(chart):
    with pytest.raises(helm.HelmError, match=r"postgresql\.host is required"):
        render(chart, {"postgresql": {"bundled": False, "existingSecret": "db"}})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"registry": {"strem": True}}, "at '/registry': additional properties 'strem' not allowed"),
        ({"postgresql": {"port": "5432"}}, "at '/postgresql/port': got string, want integer"),
        ({"image": {"pullPolicy": "Sometimes"}}, "at '/image/pullPolicy'"),
        ({"jupyterhub": {"hub": {"config": {"MLLab": {"idle_timout": 60}}}}},
         "at '/jupyterhub/hub/config/MLLab': additional properties 'idle_timout' not allowed"),
        ({"jupyterhub": {"hub": {"config": {"MLLab": {"profiles": [{"display_name": "GPU", "gpu": 1}]}}}}},
         "at '/jupyterhub/hub/config/MLLab/profiles/0': additional properties 'gpu' not allowed"),
    ],
    ids=["typo-our-key", "wrong-type", "not-in-enum", "typo-mllab-option", "typo-profile-key"],
)
def test_schema_refuses_bad_values_saying_where(chart, values, message):
    with pytest.raises(helm.HelmValuesError) as raised:
        chart.validate_schema(values)
    assert message in str(raised.value)


def test_schema_accepts_both_installs(chart, install):
    chart.validate_schema(install[1])


def test_schema_knows_every_platform_option():
    """The schema of ``jupyterhub.hub.config.MLLab`` lists exactly the MLLab traits and profile keys."""
    import json

    from mllab.hub.backends.profiles import PROFILE_KEYS
    from mllab.hub.platform import MLLab

    schema = json.loads((CHART / "values.schema.json").read_text())
    mllab = schema["properties"]["jupyterhub"]["properties"]["hub"]["properties"]["config"]["properties"]["MLLab"]
    assert set(mllab["properties"]) == set(MLLab.class_traits(config=True))
    assert set(mllab["properties"]["profiles"]["items"]["properties"]) == PROFILE_KEYS


def test_z2jh_names_follow_its_fullname_override(chart):
    """With ``jupyterhub.fullnameOverride``, z2jh names its hub ``<override>-hub``: the services'
    pods and the model pods must look for the hub and its Secret there."""
    objects = render(chart, {"jupyterhub": {"fullnameOverride": "ml"}})
    env = {e["name"]: e for e in find(objects, "Deployment", "mllab-registry")["spec"]["template"]["spec"]
           ["containers"][0]["env"]}
    assert env["JUPYTERHUB_API_URL"]["value"] == "http://ml-hub:8081/hub/api"
    assert env["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "ml-hub"
    config = find(objects, "ConfigMap", "mllab-deployments")["data"]["deployments.json"]
    assert '"pull_token_secret": "ml-hub"' in config
    assert '"platform_url": "http://ml-proxy-public/"' in config


def test_every_value_of_ours_is_described():
    """Each key of the schema (ours, and the MLLab options) says what it is."""
    import json

    schema = json.loads((CHART / "values.schema.json").read_text())
    mllab = schema["properties"]["jupyterhub"]["properties"]["hub"]["properties"]["config"]["properties"]["MLLab"]
    missing = []

    def walk(node: dict, path: str) -> None:
        for key, child in (node.get("properties") or {}).items():
            if path + key == "jupyterhub":
                continue  # z2jh's, described by its own schema
            if not child.get("description"):
                missing.append(path + key)
            walk(child, f"{path}{key}.")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[].")

    walk(schema, "")
    walk(mllab, "jupyterhub.hub.config.MLLab.")
    assert missing == []

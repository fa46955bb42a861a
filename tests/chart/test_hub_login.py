"""The login the chart's hub starts with: single sign-on is closed until the values open it,
and a hub with a closed one does not start, so each install the chart documents opens it."""

from __future__ import annotations

from jupyterhub.app import JupyterHub
from mllab.hub.auth.native import MLLabNativeAuthenticator
from mllab.hub.auth.oauth import MLLabOAuthenticator

from .test_hub_config import load_hub_config


def test_each_install_lets_people_log_in(tmp_path, install, monkeypatch):
    name, values = install
    monkeypatch.setenv("MLLAB_OAUTH_CLIENT_SECRET", "from-the-mllab-oidc-secret")
    c, _ = load_hub_config(tmp_path / "hub", values)
    cls = JupyterHub(config=c).authenticator_class
    if name == "default":
        assert cls is MLLabNativeAuthenticator, "sign-up and the admin's approval: nothing to open"
    else:
        assert issubclass(cls, MLLabOAuthenticator)
        assert cls.is_opened_by(c), f"the {name} values set no allow list: its hub would not start"
        assert c[cls.allow_class].allowed_groups == ["ml-users"]

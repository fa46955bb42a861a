"""Accounts kept by the hub: NativeAuthenticator, with the admin created on first start."""

from __future__ import annotations

from pathlib import Path

from nativeauthenticator import NativeAuthenticator
from traitlets import Unicode
from traitlets.config import Config

from ..platform import MLLab
from ..secrets import admin_password


class MLLabNativeAuthenticator(NativeAuthenticator):
    """NativeAuthenticator that creates the admin accounts it is told about."""

    initial_admin_password = Unicode(
        help="""
        Password given to each of ``admin_users`` that has no account yet.

        Set by ``mllab up`` from ``$MLLAB_ADMIN_PASSWORD`` or the generated
        ``<data_dir>/admin-password``; changing it later changes nothing (the admin
        changes their password in the hub, at ``/hub/change-password``).
        """,
    ).tag(config=True)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in sorted(self.admin_users):
            if self.initial_admin_password and not self.user_exists(name):
                if self.create_user(name, self.initial_admin_password) is None:
                    raise ValueError(
                        f"MLLabNativeAuthenticator could not create admin {name!r}: "
                        "check the user name and the password rules"
                    )
                self.log.info("Created admin account %s", name)


def native_config(mllab: MLLab) -> Config:
    c = Config()
    c.JupyterHub.authenticator_class = MLLabNativeAuthenticator
    password, generated = admin_password(Path(mllab.data_dir))
    if generated:
        print(
            f"\n  ML Lab Hub admin account: {mllab.admin_user} / {password}\n"
            f"  (saved to {mllab.data_dir}/admin-password, shown only this once)\n",
            flush=True,
        )
    c.MLLabNativeAuthenticator.initial_admin_password = password
    # Sign-up is open; an admin approves each account at /hub/authorize.
    c.MLLabNativeAuthenticator.enable_signup = True
    c.MLLabNativeAuthenticator.open_signup = False
    # NativeAuthenticator refuses unapproved accounts itself; JupyterHub 5 must not
    # additionally require an allow list.
    c.MLLabNativeAuthenticator.allow_all = True
    c.MLLabNativeAuthenticator.minimum_password_length = 8
    c.MLLabNativeAuthenticator.check_common_password = True
    # Slow down password guessing: 5 failures lock the account for 10 minutes.
    c.MLLabNativeAuthenticator.allowed_failed_logins = 5
    c.MLLabNativeAuthenticator.seconds_before_next_try = 600
    return c

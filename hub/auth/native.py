"""Accounts kept by the hub (entry point ``mllab-native``): NativeAuthenticator, with the admin
created on first start."""

from __future__ import annotations

import os
from pathlib import Path

from nativeauthenticator import NativeAuthenticator
from traitlets import Unicode, default
from traitlets.config import Config

from ..platform import MLLab
from ..secrets import kept_secret


class MLLabNativeAuthenticator(NativeAuthenticator):
    """NativeAuthenticator that creates the admin accounts it is told about when it starts.

    Sign-up is open and an admin approves each account at ``/hub/authorize``; passwords
    have at least 8 characters and are not common ones; 5 failed logins lock an account
    for 10 minutes.  Each is a default, set otherwise on ``c.MLLabNativeAuthenticator``.
    """

    initial_admin_password = Unicode(
        help="""
        Password given to each of ``admin_users`` that has no account yet.

        Defaults to ``$MLLAB_ADMIN_PASSWORD``; without it, a password is generated on first
        start, kept in ``admin_password_file`` and printed once.  Changing it later changes
        nothing (the admin changes their password in the hub, at ``/hub/change-password``).
        """,
    ).tag(config=True)

    @default("initial_admin_password")
    def _default_initial_admin_password(self) -> str:
        return os.environ.get("MLLAB_ADMIN_PASSWORD", "")

    admin_password_file = Unicode(
        "admin-password",
        help="""
        File that keeps the generated admin password (mode 0600), when
        ``initial_admin_password`` is not set.  Set by the hub configuration to
        ``<data_dir>/admin-password``; a relative path is taken from the hub's working folder.

            c.MLLabNativeAuthenticator.admin_password_file = "/srv/mllab/admin-password"
        """,
    ).tag(config=True)

    @default("enable_signup")
    def _default_enable_signup(self) -> bool:
        return True

    @default("open_signup")
    def _default_open_signup(self) -> bool:
        return False

    @default("allow_all")
    def _default_allow_all(self) -> bool:
        # NativeAuthenticator refuses unapproved accounts itself; JupyterHub 5 must not
        # additionally require an allow list.
        return True

    @default("minimum_password_length")
    def _default_minimum_password_length(self) -> int:
        return 8

    @default("check_common_password")
    def _default_check_common_password(self) -> bool:
        return True

    @default("allowed_failed_logins")
    def _default_allowed_failed_logins(self) -> int:
        return 5

    @default("seconds_before_next_try")
    def _default_seconds_before_next_try(self) -> int:
        return 600

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.create_admin_accounts()

    def create_admin_accounts(self) -> None:
        """Create each of ``admin_users`` that has no account yet, approved, with the initial password."""
        missing = [name for name in sorted(self.admin_users) if not self.user_exists(name)]
        if not missing:
            return
        password = self.initial_admin_password or self.kept_admin_password(missing)
        for name in missing:
            if self.create_user(name, password) is None:
                raise ValueError(
                    f"MLLabNativeAuthenticator could not create admin {name!r}: "
                    "check the user name and the password rules"
                )
            self.log.info("Created admin account %s", name)

    def kept_admin_password(self, names: list[str]) -> str:
        """The password in ``admin_password_file``, generated (and shown once) if absent."""
        path = Path(self.admin_password_file)
        password, generated = kept_secret(path, nbytes=12)
        if generated:
            print(
                f"\n  ML Lab Hub admin account: {', '.join(names)} / {password}\n"
                f"  (saved to {path.absolute()}, shown only this once)\n",
                flush=True,
            )
        return password

    @classmethod
    def platform_settings(cls, mllab: MLLab, hub_url: str) -> Config:
        """Settings that follow from ``mllab``, without side effects."""
        c = Config()
        c[cls.__name__].admin_password_file = str(Path(mllab.data_dir) / "admin-password")
        return c

    @classmethod
    def preflight(cls, mllab: MLLab) -> None:
        """Start-up checks beyond the settings' own (none: the accounts are the hub's)."""

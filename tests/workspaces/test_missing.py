"""A tool whose program is missing from the workspace's PATH opens its install page, never a 500."""

from __future__ import annotations

import pytest

from ..harness import api, spawn

pytestmark = pytest.mark.slow

#: Local workspaces without the hub's scripts or .tools/bin on their PATH: no code-server, no tensorboard.
CONFIG = """
c = get_config()  # noqa: F821
c.MLLabLocalSpawner.extra_path = []
c.Spawner.environment = {"PATH": "/usr/bin:/bin"}
"""


@pytest.mark.parametrize(("entry", "title", "program", "hint"), [
    ("vscode", "VS Code", "code-server", "make tools"),
    ("tensorboard", "TensorBoard", "tensorboard", "pip install tensorboard"),
])
def test_missing_program_opens_the_install_page(make_hub, tmp_path, entry, title, program, hint):
    config = tmp_path / "missing_tools_config.py"
    config.write_text(CONFIG)
    hub = make_hub(args=["--config", str(config)])
    alice, _ = hub.add_user("alice")
    token = alice.new_token()
    spawn(hub, token, "alice")

    for path in ("", "some/deeper/path?x=1"):
        page = api(hub, token, "GET", f"user/alice/{entry}/{path}")
        assert page.status_code == 200, page.text[:500]
        assert page.headers["X-MLLab-Missing"] == program
        assert f"{title} is not installed" in page.text
        assert hint in page.text

"""A newcomer's first session in a real browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow


def test_login_start_workspace_run_cell_logout(hub, page, tmp_path):
    page.goto(hub.url + "hub/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", hub.admin_password)
    page.click("#login_submit")

    # JupyterHub starts the workspace and lands in JupyterLab.
    page.wait_for_url("**/user/admin/lab**")
    page.locator(".jp-LauncherCard[data-category='Notebook']").first.click()
    # The status bar's kernel status, not the toolbar's indicator: that one reads idle before the
    # session has a kernel, and a cell run then is dropped without a word.
    expect(page.locator("#jp-main-statusbar")).to_contain_text("Python 3 (ipykernel) | Idle", timeout=120_000)
    cell = page.locator(".jp-Notebook .jp-Cell .cm-content").first
    cell.click()
    page.keyboard.type("print(6 * 7)")
    expect(cell).to_have_text("print(6 * 7)")
    # The tab's unsaved mark: the notebook's model holds the code, so running the cell sends it.
    page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").wait_for()
    page.keyboard.press("Shift+Enter")
    output = page.locator(".jp-OutputArea-output").first
    output.wait_for()
    assert output.inner_text().strip() == "42"
    page.screenshot(path=str(tmp_path / "notebook.png"))  # kept for a person to look at

    page.goto(hub.url + "hub/logout")
    page.wait_for_url("**/hub/login**")
    page.goto(hub.url + "hub/home")
    assert "/hub/login" in page.url, "after logging out, the hub asks to log in again"


def test_launcher_shows_the_workspace_tools(hub, page, tmp_path):
    """A user's JupyterLab launcher has a tile for each tool of the workspace."""
    page.goto(hub.url + "hub/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", hub.admin_password)
    page.click("#login_submit")
    page.wait_for_url("**/user/admin/lab**")
    # A fresh layout: JupyterLab would otherwise reopen what an earlier session left open.
    page.goto(hub.url + "user/admin/lab?reset")
    launcher = page.locator(".jp-Launcher-body")
    launcher.wait_for()
    for title in ("VS Code", "Desktop", "TensorBoard", "Monitor"):
        card = page.locator(f".jp-LauncherCard:has-text('{title}')").first
        card.wait_for()
        card.locator("img").wait_for()  # its icon, beside the other tools'
    page.screenshot(path=str(tmp_path / "launcher.png"))  # kept for a person to look at

"""A workspace tool whose program may be missing: the real command, or a page saying what to install.

Each tool is a jupyter-server-proxy entry; on the local backend its program exists only where
it was installed (``make tools``).  `tool_command` gives an entry a ``command`` that looks the
program up when the tile is opened: found, the tool starts; missing, this module serves a
small page naming what to install (status 200, header ``X-MLLab-Missing``), never a 500.

    from .missing import tool_command

    def setup_mytool() -> dict:
        return {
            "command": tool_command(
                "mytool", lambda path, port: [path, "--port", str(port)],
                title="My tool", install="pip install mytool",
            ),
            "launcher_entry": {"title": "My tool"},
        }

Run as a program (what the entry starts when the program is missing):
``python -m mllab.extensions.missing --port PORT --title T --program P --install HINT``.
"""

from __future__ import annotations

import argparse
import html
import inspect
import shutil
import sys
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} is not installed</title>
<style>body{{font-family:sans-serif;max-width:42em;margin:4em auto;line-height:1.5}}
pre{{background:#f3f3f3;padding:1em;white-space:pre-wrap}}</style></head>
<body><h1>{title} is not installed in this workspace</h1>
<p>The program <code>{program}</code> was not found on the workspace's <code>PATH</code>.
To install it:</p>
<pre>{install}</pre>
<p>Then stop and start the workspace from the hub's home page (the running server keeps
the <code>PATH</code> it started with), and open {title} again.</p>
</body></html>
"""


def install_page(title: str, program: str, install: str) -> str:
    """The HTML page shown in place of ``title`` when ``program`` is missing."""
    return PAGE.format(title=html.escape(title), program=html.escape(program), install=html.escape(install))


def missing_command(title: str, program: str, install: str, port: int) -> list[str]:
    """The command serving the install page on ``port`` (127.0.0.1)."""
    return [sys.executable, "-m", "mllab.extensions.missing", "--port", str(port),
            "--title", title, "--program", program, "--install", install]


def tool_command(program: str, build: Callable[..., list[str]], *, title: str, install: str) -> Callable:
    """A jupyter-server-proxy ``command`` callable: ``build(path, port, base_url)`` when
    ``program`` is on ``PATH`` (``path`` is where), else the install page on the same port.

    ``build`` takes any of ``path``, ``port``, ``base_url`` by name. The lookup happens each
    time the tool starts, so a program installed later is picked up by a restarted workspace.
    """
    wanted = set(inspect.signature(build).parameters)

    def command(port, base_url):
        path = shutil.which(program)
        if path is None:
            return missing_command(title, program, install, port)
        offered = {"path": path, "port": port, "base_url": base_url}
        return build(**{name: value for name, value in offered.items() if name in wanted})

    return command


class _Handler(BaseHTTPRequestHandler):
    body = b""
    program = ""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-MLLab-Missing", self.program)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(self.body)

    do_HEAD = do_GET

    def log_message(self, format: str, *args) -> None:
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the install page of a missing workspace tool.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--title", required=True)
    parser.add_argument("--program", required=True)
    parser.add_argument("--install", required=True)
    args = parser.parse_args(argv)
    handler = type("Handler", (_Handler,), {
        "body": install_page(args.title, args.program, args.install).encode(), "program": args.program,
    })
    ThreadingHTTPServer(("127.0.0.1", args.port), handler).serve_forever()


if __name__ == "__main__":
    main()

// The desktop's page: noVNC's RFB client on ../desktop-websockify/ (the raw socket to
// Xtigervnc that jupyter-server-proxy serves next to this page), scaled to the window, with
// the remote screen resized to match. The hub's login cookie opens the websocket.
import RFB from "./novnc/core/rfb.js";

const screen = document.getElementById("screen");
const status = document.getElementById("status");
const reconnect = document.getElementById("reconnect");

function websocketUrl() {
  const url = new URL("../desktop-websockify/", window.location.href);
  url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

function show(state, text) {
  status.dataset.state = state;
  status.textContent = text;
  status.title = text;
  reconnect.hidden = state !== "disconnected";
}

function connect() {
  show("connecting", "Connecting");
  const rfb = new RFB(screen, websocketUrl());
  rfb.scaleViewport = true;
  rfb.resizeSession = true;
  rfb.addEventListener("connect", () => {
    show("connected", "Connected");
    rfb.focus();
  });
  rfb.addEventListener("disconnect", (event) => {
    show("disconnected", event.detail.clean ? "Disconnected" : "Disconnected: the desktop stopped or cannot be reached");
  });
  rfb.addEventListener("desktopname", (event) => {
    document.title = `${event.detail.name} - Desktop`;
  });
}

reconnect.addEventListener("click", connect);
connect();

// Live recording over a WebSocket (protocol: docs/live-recording.md).
//
// Every MediaRecorder slice is numbered and kept until the server acknowledges
// it, so a dropped connection loses nothing: on reconnect the session resumes at
// the server's position and the unacknowledged slices are sent again.

const FATAL = new Set([4400, 4401, 4403, 4404, 4408, 4410, 4413, 4415, 4422, 4429, 4507, 1008]);
const MAX_BACKOFF_MS = 8000;

export class LiveStream {
  constructor(url, { onFeedback, onStatus, onConnection } = {}) {
    this.url = url;
    this.onFeedback = onFeedback || (() => {});
    this.onStatus = onStatus || (() => {});
    this.onConnection = onConnection || (() => {});
    this.frames = [];
    this.acked = -1;
    this.sent = -1;
    this.session = null;
    this.ws = null;
    this.ready = false;
    this.failed = null; // {code, detail} once streaming cannot go on
    this.ending = null;
    this.finished = false;
    this.reconnects = 0;
    this.backoff = 500;
    this.retryTimer = null;
    this.onOnline = () => this.reconnectNow();
    this.onOffline = () => this.ws?.close(4000, "offline");
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
  }

  /** Open the socket; resolves true once the server has started the session. */
  start() {
    return new Promise((resolve) => {
      this.firstStart = resolve;
      this.connect();
    });
  }

  connect() {
    if (this.failed || this.finished) return;
    clearTimeout(this.retryTimer);
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.ready = false;
    ws.addEventListener("message", (event) => this.message(ws, event));
    ws.addEventListener("close", (event) => this.closed(ws, event));
  }

  reconnectNow() {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) return;
    this.backoff = 500;
    this.connect();
  }

  message(ws, event) {
    if (ws !== this.ws || typeof event.data !== "string") return;
    const message = JSON.parse(event.data);
    switch (message.type) {
      case "ready":
        ws.send(JSON.stringify(this.session ? { type: "resume", session: this.session, last_ack: this.acked } : { type: "start" }));
        break;
      case "started":
      case "resumed":
        if (message.type === "resumed") this.reconnects += 1;
        this.session = message.session;
        this.acked = Math.max(this.acked, message.next_seq - 1);
        this.sent = this.acked;
        this.ready = true;
        this.backoff = 500;
        // An "end" that never reached the server is sent again after resuming.
        if (this.ending && message.status === "active") this.ending.requested = false;
        this.onConnection(true);
        this.firstStart?.(true);
        this.firstStart = null;
        this.flush();
        break;
      case "ack":
        this.acked = Math.max(this.acked, message.seq);
        this.flush();
        break;
      case "feedback":
        this.onFeedback(message);
        break;
      case "ended":
        this.finished = true;
        this.ending?.resolve(message);
        break;
      case "status":
        this.onStatus(message);
        break;
      case "error":
        this.lastError = message;
        break;
    }
  }

  closed(ws, event) {
    if (ws !== this.ws) return;
    this.ready = false;
    this.ws = null;
    if (this.finished) {
      this.onAfterEnd?.();
      return;
    }
    if (FATAL.has(event.code) || (!this.session && this.firstStart)) {
      // Not worth retrying (or no live endpoint at all): the page uploads instead.
      this.failed = { code: event.code, detail: this.lastError?.detail || event.reason };
      this.firstStart?.(false);
      this.firstStart = null;
      this.ending?.reject(this.failed);
      return;
    }
    this.onConnection(false);
    this.retryTimer = setTimeout(() => this.connect(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
  }

  /** Queue one MediaRecorder slice; it is sent now or after the next reconnect. */
  push(blob) {
    this.frames.push(blob);
    this.flush();
  }

  flush() {
    if (!this.ready || !this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    while (this.sent < this.frames.length - 1) {
      const seq = this.sent + 1;
      const header = new Uint8Array(4);
      new DataView(header.buffer).setUint32(0, seq);
      this.ws.send(new Blob([header, this.frames[seq]]));
      this.sent = seq;
    }
    if (this.ending && !this.ending.requested && this.acked === this.frames.length - 1) {
      this.ending.requested = true;
      this.ws.send(JSON.stringify({ type: "end" }));
    }
  }

  /** Finish: once every slice is acknowledged, the server makes the recording. */
  end() {
    return new Promise((resolve, reject) => {
      if (this.failed) {
        reject(this.failed);
        return;
      }
      this.ending = { resolve, reject, requested: false };
      this.reconnectNow();
      this.flush();
    });
  }

  cancel() {
    this.failed = { code: 1000, detail: "cancelled" };
    if (this.ws?.readyState === WebSocket.OPEN && this.session) this.ws.send(JSON.stringify({ type: "cancel" }));
    this.close();
  }

  close() {
    clearTimeout(this.retryTimer);
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
  }
}

/** ws(s)://<this host>/ws/record/?script=<id>, or null where streaming cannot work. */
export function liveUrl(path, scriptId, mimeType) {
  if (!path || !("WebSocket" in window) || !/webm|ogg/.test(mimeType || "")) return null;
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${path}?script=${encodeURIComponent(scriptId)}`;
}

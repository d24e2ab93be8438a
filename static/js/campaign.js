// A campaign's live progress (docs/campaigns.md): the page is rendered with the
// current state, and /ws/campaigns/<id>/ sends the whole new state whenever it
// changes. The page's session cookie signs the socket in.

const FATAL = new Set([4401, 4403, 4404, 1008]);
const MAX_BACKOFF_MS = 15000;

const section = document.getElementById("campaign-progress");
const labels = document.getElementById("campaign-labels")?.content;
const numbers = new Intl.NumberFormat(document.documentElement.lang || undefined, {
  maximumFractionDigits: 1,
});

function label(selector) {
  return labels?.querySelector(selector)?.textContent || "";
}

function valueAt(progress, path) {
  return path.split(".").reduce((value, key) => (value == null ? value : value[key]), progress);
}

function listItems(list, rows, text) {
  const items = rows.map((row) => {
    const li = document.createElement("li");
    li.textContent = text(row);
    return li;
  });
  if (items.length) list.replaceChildren(...items);
}

function render(progress) {
  for (const el of section.querySelectorAll("[data-field]")) {
    if (el.dataset.field === "status_label") {
      el.textContent = label(`[data-status="${progress.status}"]`) || progress.status;
      el.className = `badge status-${progress.status}`;
      continue;
    }
    const value = valueAt(progress, el.dataset.field);
    if (value != null) el.textContent = numbers.format(value);
  }
  for (const bar of section.querySelectorAll("[data-bar]")) {
    bar.value = valueAt(progress, bar.dataset.bar) || 0;
  }
  const minutes = label('[data-key="minutes"]');
  listItems(
    section.querySelector('[data-list="top_participants"]'),
    progress.top_participants,
    (row) => `${row.name} · ${numbers.format(row.minutes)} ${minutes}`,
  );
  listItems(
    section.querySelector('[data-list="events"]'),
    progress.events,
    (event) => `${event.who} ${event.text}`.trim(),
  );
  section.dataset.version = progress.version;
}

function connect(backoff = 1000) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}${section.dataset.socket}`);
  const notice = section.querySelector("[data-connection]");
  ws.addEventListener("open", () => {
    backoff = 1000;
    if (notice) notice.hidden = true;
  });
  ws.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "progress") render(message);
  });
  ws.addEventListener("close", (event) => {
    if (FATAL.has(event.code)) return;
    if (notice) notice.hidden = false;
    setTimeout(() => connect(Math.min(backoff * 2, MAX_BACKOFF_MS)), backoff);
  });
}

if (section && "WebSocket" in window) connect();

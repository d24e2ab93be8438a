// Transcribe and verify pages: a queue of leased clips, worked through without reloads.

import { api, errorDetail } from "./http.js";
import { clock, loadStrings } from "./strings.js";

const root = document.getElementById("task");
const t = loadStrings("task-strings");
const $ = (id) => document.getElementById(id);

const MODE = root?.dataset.mode;
const BATCH = 5;
const SLOW_RATE = 0.7;

const ui = {
  status: $("task-status"),
  card: $("task-card"),
  audio: $("task-audio"),
  replay: $("btn-replay"),
  slow: $("btn-slow"),
  timer: $("lease-timer"),
  verifyBox: $("verify-box"),
  expected: $("expected"),
  yes: $("btn-yes"),
  no: $("btn-no"),
  skipVerify: $("btn-skip-verify"),
  form: $("task-form"),
  text: $("task-text"),
  textError: $("text-error"),
  skip: $("btn-skip"),
  submit: $("btn-submit"),
  doneCount: $("done-count"),
  helper: document.querySelector(".char-helper"),
  flags: [...document.querySelectorAll(".flags input[type=checkbox]")],
};

const state = {
  queue: [],
  seen: new Set(),
  current: null,
  shownAt: 0,
  clockOffset: 0, // server time minus client time, so lease timers survive a wrong phone clock
  timer: null,
  busy: false,
  done: 0,
  slow: false,
};

const say = (message) => {
  ui.status.textContent = message || "";
};

function setState(name) {
  root.dataset.state = name;
}

// --- Queue -------------------------------------------------------------------------

const expiresIn = (task) => (task.expiresAt - (Date.now() + state.clockOffset)) / 1000;

async function fetchBatch() {
  const params = new URLSearchParams({ language: root.dataset.language, count: String(BATCH), mode: MODE });
  const response = await api(`${root.dataset.nextUrl}?${params}`);
  if (!response.ok) return response;
  state.clockOffset = response.serverNow - Date.now();
  for (const task of response.data) {
    if (state.seen.has(task.chunk) || state.current?.chunk === task.chunk) continue;
    state.seen.add(task.chunk);
    state.queue.push({ ...task, expiresAt: Date.parse(task.lease_expires_at) });
  }
  return response;
}

async function next() {
  clearInterval(state.timer);
  state.current = null;
  while (state.queue.length && expiresIn(state.queue[0]) < 5) state.queue.shift();
  if (!state.queue.length) {
    setState("loading");
    const response = await fetchBatch();
    if (!response.ok) {
      ui.card.hidden = true;
      if (response.status === 403) {
        setState("error");
        say(t("consent"));
        return;
      }
      setState("error");
      say(response.status === 0 ? t("offline") : t("error", { detail: errorDetail(response.data, response.status) }));
      if (response.status === 0 || response.status >= 500) setTimeout(next, 5000);
      return;
    }
    if (!state.queue.length) {
      ui.card.hidden = true;
      setState("empty");
      say(t("empty"));
      return;
    }
    // "Fetching…" or "offline" no longer applies; "Saved" from the last answer still does.
    if ([t("loading"), t("offline")].includes(ui.status.textContent)) say("");
  }
  show(state.queue.shift());
}

function show(task) {
  state.current = task;
  state.shownAt = performance.now();
  root.dataset.chunk = task.chunk;
  ui.card.hidden = false;
  ui.audio.src = task.audio_url;
  ui.audio.playbackRate = state.slow ? SLOW_RATE : 1;
  ui.text.value = "";
  ui.textError.hidden = true;
  ui.flags.forEach((box) => {
    box.checked = false;
  });
  if (MODE === "verify") {
    ui.expected.textContent = task.expected_text || "";
    ui.verifyBox.hidden = false;
    ui.form.hidden = true;
    setState("verify");
    ui.yes.focus();
  } else {
    ui.form.hidden = false;
    setState("transcribe");
    ui.text.focus();
  }
  tickTimer();
  state.timer = setInterval(tickTimer, 1000);
  ui.audio.play().catch(() => say(t("play_blocked")));
}

function tickTimer() {
  const task = state.current;
  if (!task) return;
  const left = expiresIn(task);
  ui.timer.textContent = clock(left);
  ui.timer.classList.toggle("warning", left < 60);
  if (left <= 0) {
    say(t("expired"));
    next();
  }
}

// --- Answers -----------------------------------------------------------------------

function elapsedMs() {
  return Math.round(performance.now() - state.shownAt);
}

async function send(url, json, okMessage) {
  if (state.busy || !state.current) return null;
  state.busy = true;
  const response = await api(url, { method: "POST", json });
  state.busy = false;
  if (response.ok) {
    if (okMessage) say(okMessage);
    return response;
  }
  if (response.status === 409) {
    // The lease is gone (expired, or answered in another tab): move on.
    say(errorDetail(response.data, t("expired")));
    next();
    return null;
  }
  if (response.status === 0) say(t("send_failed"));
  else say(t("error", { detail: errorDetail(response.data, response.status) }));
  return null;
}

function counted() {
  state.done += 1;
  ui.doneCount.textContent = t("done_count", { count: state.done });
}

async function submitText(event) {
  event?.preventDefault();
  const text = ui.text.value.trim();
  const flags = ui.flags.filter((box) => box.checked).map((box) => box.value);
  if (!text && !flags.length) {
    ui.textError.textContent = t("need_text");
    ui.textError.hidden = false;
    ui.text.focus();
    return;
  }
  const response = await send(
    root.dataset.submitUrl,
    { chunk: state.current.chunk, text, flags, time_spent_ms: elapsedMs() },
    t("saved"),
  );
  if (response) {
    counted();
    next();
  }
}

async function skip() {
  if (!state.current) return;
  const response = await send(`/api/tasks/${state.current.chunk}/skip/`, {}, t("skipped"));
  if (response) next();
}

async function verify(matches) {
  if (!state.current || root.dataset.state !== "verify") return;
  const response = await send(
    `/api/tasks/${state.current.chunk}/verify/`,
    { matches, time_spent_ms: elapsedMs() },
    matches ? t("saved") : "",
  );
  if (!response) return;
  if (response.data?.next === "transcribe") {
    // "Does not match": the lease now expects a typed text for this clip, and
    // its expiry was renewed by the server.
    const seconds = Number.parseInt(root.dataset.leaseSeconds, 10) || 600;
    state.current.expiresAt = Date.now() + state.clockOffset + seconds * 1000;
    ui.verifyBox.hidden = true;
    ui.form.hidden = false;
    ui.text.value = state.current.expected_text || "";
    setState("transcribe");
    say(t("mismatch"));
    ui.text.focus();
    ui.text.select();
    return;
  }
  counted();
  next();
}

// --- Player ------------------------------------------------------------------------

function replay() {
  ui.audio.currentTime = 0;
  ui.audio.play().catch(() => say(t("play_blocked")));
}

function toggleSlow() {
  state.slow = !state.slow;
  ui.audio.playbackRate = state.slow ? SLOW_RATE : 1;
  ui.slow.setAttribute("aria-pressed", String(state.slow));
  say(state.slow ? t("slower_on") : t("slower_off"));
}

// --- Character helper: a toolbar with one tab stop (arrow keys move inside) ------------------

function insertChar(ch) {
  const { selectionStart: start, selectionEnd: end, value } = ui.text;
  ui.text.value = value.slice(0, start) + ch + value.slice(end);
  ui.text.selectionStart = ui.text.selectionEnd = start + ch.length;
}

if (ui.helper) {
  const buttons = [...ui.helper.querySelectorAll("button")];
  // Keep the phone keyboard open: a tap on a helper key must not take focus
  // from the text box.
  ui.helper.addEventListener("pointerdown", (event) => {
    if (event.target.closest("button")) event.preventDefault();
  });
  ui.helper.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (button) insertChar(button.dataset.char);
  });
  ui.helper.addEventListener("keydown", (event) => {
    const index = buttons.indexOf(document.activeElement);
    if (index === -1) return;
    const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
    let target = null;
    if (event.key in moves) target = (index + moves[event.key] + buttons.length) % buttons.length;
    else if (event.key === "Home") target = 0;
    else if (event.key === "End") target = buttons.length - 1;
    if (target === null) return;
    event.preventDefault();
    buttons[index].tabIndex = -1;
    buttons[target].tabIndex = 0;
    buttons[target].focus();
  });
}

// --- Keyboard ------------------------------------------------------------------------

function onKey(event) {
  if (!state.current) return;
  const inField = Boolean(event.target.closest("input[type=text], textarea, select"));
  if (event.ctrlKey && event.key === "Enter" && !ui.form.hidden) {
    event.preventDefault();
    submitText();
    return;
  }
  if (event.altKey && !event.ctrlKey && !event.metaKey) {
    // event.code, not event.key: with a Bangla keyboard layout the key is a Bangla letter.
    const letter = event.code.replace(/^Key/, "");
    const flag = ui.flags.find((box) => box.dataset.key === letter);
    const actions = { R: replay, S: toggleSlow, K: skip };
    if (flag && !ui.form.hidden) {
      event.preventDefault();
      flag.checked = !flag.checked;
    } else if (actions[letter]) {
      event.preventDefault();
      actions[letter]();
    }
    return;
  }
  if (inField || event.ctrlKey || event.metaKey) return;
  if (MODE === "verify" && root.dataset.state === "verify") {
    const actions = { KeyY: () => verify(true), KeyN: () => verify(false), KeyK: skip, KeyR: replay };
    if (actions[event.code]) {
      event.preventDefault();
      actions[event.code]();
    }
  }
}

// --- Start-up ------------------------------------------------------------------------

if (root) {
  root.hidden = false;
  ui.form.addEventListener("submit", submitText);
  ui.skip.addEventListener("click", skip);
  ui.replay.addEventListener("click", replay);
  ui.slow.addEventListener("click", toggleSlow);
  ui.yes?.addEventListener("click", () => verify(true));
  ui.no?.addEventListener("click", () => verify(false));
  ui.skipVerify?.addEventListener("click", skip);
  ui.text.addEventListener("input", () => {
    ui.textError.hidden = true;
  });
  document.addEventListener("keydown", onKey);
  say(t("loading"));
  next();
}

// The Contribute page: a queue of leased clips worked through without reloads.
// The server picks each clip's task (its `mode`): "verify" shows the expected
// sentence and asks for a yes/no, "transcribe" asks for what the listener hears
// without showing the sentence.

import { api, errorDetail } from "./http.js";
import { clock, loadStrings } from "./strings.js";

const root = document.getElementById("task");
const t = loadStrings("task-strings");
const $ = (id) => document.getElementById(id);

const BATCH = 5;
const SLOW_RATE = 0.7;
const VERIFY = "verify";
const TRANSCRIBE = "transcribe";

const ui = {
  status: $("task-status"),
  card: $("task-card"),
  heading: $("task-heading"),
  audio: $("task-audio"),
  play: $("btn-play"),
  playLabel: $("play-label"),
  replay: $("btn-replay"),
  slow: $("btn-slow"),
  timer: $("lease-timer"),
  verifyBox: $("verify-box"),
  expected: $("expected"),
  yes: $("btn-yes"),
  no: $("btn-no"),
  form: $("task-form"),
  text: $("task-text"),
  textError: $("text-error"),
  skip: $("btn-skip"),
  report: $("report"),
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

const taskUrl = (chunk, action) => `/api/tasks/${chunk}/${action}/`;

// --- Queue -------------------------------------------------------------------------

const expiresIn = (task) => (task.expiresAt - (Date.now() + state.clockOffset)) / 1000;

async function fetchBatch() {
  // No `mode`: the server picks each clip's task.
  const params = new URLSearchParams({ language: root.dataset.language, count: String(BATCH) });
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
  ui.audio.pause();
  while (state.queue.length && expiresIn(state.queue[0]) < 5) state.queue.shift();
  if (!state.queue.length) {
    setState("loading");
    const response = await fetchBatch();
    if (!response.ok) {
      ui.card.hidden = true;
      setState("error");
      if (response.status === 403) {
        say(t("consent"));
        return;
      }
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
  const verifying = task.mode === VERIFY && Boolean(task.expected_text);
  state.current = task;
  state.shownAt = performance.now();
  root.dataset.chunk = task.chunk;
  ui.card.hidden = false;
  ui.report.open = false;
  ui.audio.src = task.audio_url;
  ui.audio.playbackRate = state.slow ? SLOW_RATE : 1;
  ui.text.value = "";
  ui.textError.hidden = true;
  ui.flags.forEach((box) => {
    box.checked = false;
  });
  ui.expected.textContent = verifying ? task.expected_text : "";
  ui.verifyBox.hidden = !verifying;
  ui.form.hidden = verifying;
  ui.heading.textContent = verifying ? t("verify_title") : t("transcribe_title");
  setState(verifying ? VERIFY : TRANSCRIBE);
  // Voting: focus a plain element, so that Space plays the clip instead of
  // pressing whichever answer button happened to have the focus.
  if (verifying) ui.heading.focus();
  else ui.text.focus();
  tickTimer();
  state.timer = setInterval(tickTimer, 1000);
  play();
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

// Leases held when the page goes away are handed back, so the clips do not wait
// for their leases to expire before someone else can have them.
function giveBack() {
  const held = [state.current, ...state.queue].filter(Boolean);
  for (const task of held) api(taskUrl(task.chunk, "release"), { method: "POST", json: {}, keepalive: true });
  state.queue = [];
  state.seen.clear();
  state.current = null;
  clearInterval(state.timer);
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
    say(okMessage);
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
  if (root.dataset.state !== TRANSCRIBE) return;
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

async function verify(matches) {
  if (root.dataset.state !== VERIFY) return;
  // "Does not match" is a vote like "matches": the clip goes back to the server,
  // which decides whether someone should type it.
  const response = await send(
    taskUrl(state.current.chunk, "verify"),
    { matches, time_spent_ms: elapsedMs() },
    t("saved"),
  );
  if (response) {
    counted();
    next();
  }
}

async function skip() {
  if (!state.current) return;
  const response = await send(taskUrl(state.current.chunk, "skip"), {}, t("skipped"));
  if (response) next();
}

async function report(reason) {
  if (!state.current) return;
  const response = await send(taskUrl(state.current.chunk, "report"), { reason }, t("reported"));
  if (response) next();
}

// --- Player ------------------------------------------------------------------------

function play() {
  ui.audio.play().catch(() => say(t("play_blocked")));
}

function togglePlay() {
  if (ui.audio.paused) play();
  else ui.audio.pause();
}

function replay() {
  ui.audio.currentTime = 0;
  play();
}

function toggleSlow() {
  state.slow = !state.slow;
  ui.audio.playbackRate = state.slow ? SLOW_RATE : 1;
  ui.slow.setAttribute("aria-pressed", String(state.slow));
  say(state.slow ? t("slower_on") : t("slower_off"));
}

function showPlaying() {
  ui.playLabel.textContent = ui.audio.paused ? t("play") : t("pause");
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
// A letter alone works while not typing; with Alt it works everywhere. Keys are
// matched on event.code, not event.key: with a Bangla layout the key is a Bangla letter.

const EVERYWHERE = { KeyK: togglePlay, KeyR: replay, KeyL: toggleSlow, KeyS: skip };
const WHILE_VOTING = {
  KeyY: () => verify(true),
  Digit1: () => verify(true),
  Numpad1: () => verify(true),
  KeyN: () => verify(false),
  Digit2: () => verify(false),
  Numpad2: () => verify(false),
};

function onKey(event) {
  if (!state.current || event.metaKey) return;
  const typing = Boolean(event.target.closest("input[type=text], textarea, select"));
  const enterInText = event.target === ui.text && !event.shiftKey && !event.altKey;
  if (event.key === "Enter" && (enterInText || event.ctrlKey) && root.dataset.state === TRANSCRIBE) {
    // An input method composing a Bangla word uses Enter to pick it: not a submit.
    if (event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    submitText();
    return;
  }
  if (event.ctrlKey) return;
  if (event.altKey) {
    const flag = ui.flags.find((box) => `Key${box.dataset.key}` === event.code);
    const action = EVERYWHERE[event.code];
    if (flag && root.dataset.state === TRANSCRIBE) {
      event.preventDefault();
      flag.checked = !flag.checked;
    } else if (action) {
      event.preventDefault();
      action();
    }
    return;
  }
  if (typing || event.shiftKey) return;
  // Space on a button, link, summary or the player means that control itself.
  if (event.code === "Space") {
    if (event.target.closest("button, a, summary, audio, input, [role=toolbar]")) return;
    event.preventDefault();
    togglePlay();
    return;
  }
  const action = EVERYWHERE[event.code] || (root.dataset.state === VERIFY && WHILE_VOTING[event.code]);
  if (action) {
    event.preventDefault();
    action();
  }
}

// --- Start-up ------------------------------------------------------------------------

if (root) {
  root.hidden = false;
  ui.form.addEventListener("submit", submitText);
  ui.skip.addEventListener("click", skip);
  ui.play.addEventListener("click", togglePlay);
  ui.replay.addEventListener("click", replay);
  ui.slow.addEventListener("click", toggleSlow);
  ui.yes.addEventListener("click", () => verify(true));
  ui.no.addEventListener("click", () => verify(false));
  ui.report.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-reason]");
    if (button) report(button.dataset.reason);
  });
  ui.text.addEventListener("input", () => {
    ui.textError.hidden = true;
  });
  for (const name of ["play", "pause", "ended", "emptied"]) ui.audio.addEventListener(name, showPlaying);
  document.addEventListener("keydown", onKey);
  window.addEventListener("pagehide", giveBack);
  // Back to this page from the browser's cache: its leases were given back.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) next();
  });
  say(t("loading"));
  next();
}

// Record page: microphone, MediaRecorder with pause/resume, live level, listen back,
// upload with progress and retries, then the recording's processing status.
// Where the browser can, the reading is streamed while it is recorded (live-stream.js):
// the server gives feedback as the reader goes and "Upload" only finishes the stream;
// otherwise, or if streaming fails, the whole file is uploaded at the end.

import { api, errorDetail, uploadWithRetry } from "./http.js";
import { LevelMeter } from "./level-meter.js";
import { LiveStream, liveUrl } from "./live-stream.js";
import { clock, formatNumber, loadStrings } from "./strings.js";

const root = document.getElementById("recorder");
const t = loadStrings("record-strings");
const $ = (id) => document.getElementById(id);

const ui = {
  status: $("rec-status"),
  warning: $("rec-warning"),
  level: $("level"),
  levelBar: $("level-bar"),
  elapsed: $("elapsed"),
  start: $("btn-start"),
  pause: $("btn-pause"),
  stop: $("btn-stop"),
  sentenceControls: $("sentence-controls"),
  prev: $("btn-prev"),
  next: $("btn-next"),
  review: $("review"),
  playback: $("playback"),
  upload: $("btn-upload"),
  redo: $("btn-redo"),
  uploadBox: $("upload"),
  progress: $("upload-progress"),
  uploadStatus: $("upload-status"),
  result: $("result"),
  resultStatus: $("result-status"),
  quality: $("quality"),
  again: $("btn-again"),
  report: $("script-report"),
  reportStatus: $("script-report-status"),
  reportNext: $("script-report-next"),
};
const sentences = [...document.querySelectorAll("#script li")];
// Messages of live streaming, translated in the template.
const liveText = Object.fromEntries(
  [...(document.getElementById("live-strings")?.content.querySelectorAll("[data-key]") || [])].map((el) => [
    el.dataset.key,
    el.textContent.trim(),
  ]),
);

// Prefer Opus in WebM (Chrome, Firefox, Android); Safari only offers MP4/AAC.
const MIME_TYPES = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"];
const TERMINAL = new Set(["chunked", "rejected", "failed"]);

const state = {
  stream: null,
  recorder: null,
  meter: null,
  parts: [],
  blob: null,
  startedAt: 0,
  pausedFor: 0,
  pausedAt: 0,
  tick: null,
  sentence: 0,
  manualSentence: false,
  live: null,
  liveSentence: false,
  serverWarning: "",
};

function setState(name) {
  root.dataset.state = name;
}

function say(message) {
  ui.status.textContent = message;
}

function warn(message) {
  ui.warning.textContent = message || "";
  ui.warning.hidden = !message;
}

function elapsedSeconds() {
  if (!state.startedAt) return 0;
  const end = state.pausedAt || performance.now();
  return (end - state.startedAt - state.pausedFor) / 1000;
}

// --- Sentence highlight -----------------------------------------------------------

// Each sentence's share of the estimated reading time, by its length in characters.
const boundaries = (() => {
  const estimate = Number.parseFloat(root.dataset.estimate) || sentences.length * 4;
  const lengths = sentences.map((li) => li.textContent.length || 1);
  const total = lengths.reduce((a, b) => a + b, 0);
  let acc = 0;
  return lengths.map((n) => (acc += (n / total) * estimate));
})();

function highlight(index) {
  state.sentence = Math.max(0, Math.min(sentences.length - 1, index));
  sentences.forEach((li, i) => {
    li.classList.toggle("current", i === state.sentence);
    li.classList.toggle("done", i < state.sentence);
    if (i === state.sentence) li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  });
  sentences[state.sentence]?.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

function moveSentence(delta) {
  state.manualSentence = true;
  highlight(state.sentence + delta);
}

sentences.forEach((li, i) =>
  li.addEventListener("click", () => {
    state.manualSentence = true;
    highlight(i);
  }),
);
ui.prev.addEventListener("click", () => moveSentence(-1));
ui.next.addEventListener("click", () => moveSentence(1));
document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.target.closest("input, select, textarea")) return;
  if (event.key === "ArrowDown" || event.key === "ArrowRight") {
    if (root.dataset.state === "recording") {
      event.preventDefault();
      moveSentence(1);
    }
  } else if (event.key === "ArrowUp" || event.key === "ArrowLeft") {
    if (root.dataset.state === "recording") {
      event.preventDefault();
      moveSentence(-1);
    }
  }
});

// --- Capture -----------------------------------------------------------------------

function micError(error) {
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return t("denied");
    case "NotFoundError":
    case "OverconstrainedError":
      return t("no_mic");
    case "NotReadableError":
    case "AbortError":
      return t("busy");
    default:
      return t("mic_error", { error: error?.message || String(error) });
  }
}

function showLevel({ level, quiet, clipping }) {
  const percent = Math.round(level * 100);
  ui.levelBar.style.width = `${percent}%`;
  ui.level.setAttribute("aria-valuenow", String(percent));
  ui.level.classList.toggle("hot", clipping);
  if (root.dataset.state !== "recording") return;
  warn(clipping ? t("clipping") : quiet ? t("too_quiet") : state.serverWarning);
}

// Feedback the server computes from the stream: its warnings and the sentence
// it hears the reader on (from pauses and expected durations).
const SERVER_WARNINGS = { clipping: "clipping", too_quiet: "too_quiet" };

function showFeedback(feedback) {
  const [first] = feedback.warnings || [];
  state.serverWarning = first === "long_silence" ? liveText.long_silence || "" : first ? t(SERVER_WARNINGS[first]) : "";
  root.dataset.liveSentence = String(feedback.sentence);
  if (root.dataset.state !== "recording") return;
  if (state.serverWarning) warn(state.serverWarning);
  if (!state.manualSentence) {
    state.liveSentence = true;
    highlight(feedback.sentence);
  }
}

function showConnection(connected) {
  root.dataset.live = connected ? "connected" : "reconnecting";
  if (!state.live) return;
  root.dataset.liveReconnects = String(state.live.reconnects);
  if (root.dataset.state === "recording") say(connected ? t("recording") : liveText.reconnecting);
  else if (root.dataset.state === "uploading") ui.uploadStatus.textContent = connected ? liveText.saving : liveText.reconnecting;
}

function startLive(recorder) {
  const url = liveUrl(root.dataset.liveUrl, root.dataset.script, recorder.mimeType);
  if (!url) {
    root.dataset.mode = "upload";
    return;
  }
  const live = new LiveStream(url, { onFeedback: showFeedback, onStatus: showLiveStatus, onConnection: showConnection });
  state.live = live;
  root.dataset.mode = "live";
  live.start().then((started) => {
    if (started) {
      root.dataset.liveSession = live.session;
    } else if (state.live === live) {
      root.dataset.mode = "upload"; // no live endpoint here: the file is uploaded at the end
    }
  });
}

function updateClock() {
  const seconds = elapsedSeconds();
  ui.elapsed.textContent = clock(seconds);
  if (!state.manualSentence && !state.liveSentence) {
    const index = boundaries.findIndex((end) => seconds < end);
    highlight(index === -1 ? sentences.length - 1 : index);
  }
}

function releaseMicrophone() {
  state.meter?.close();
  state.meter = null;
  state.stream?.getTracks().forEach((track) => track.stop());
  state.stream = null;
  clearInterval(state.tick);
}

async function start() {
  warn("");
  ui.start.disabled = true;
  say(t("asking"));
  let stream;
  try {
    // Processing off: noise suppression and auto gain change the voice the
    // dataset is meant to capture (and make the level meter lie).
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 },
    });
  } catch (error) {
    ui.start.disabled = false;
    say("");
    warn(micError(error));
    setState("mic-error");
    return;
  }
  state.stream = stream;
  state.meter = new LevelMeter(stream, showLevel);
  state.meter.context.resume?.();
  const mimeType = MIME_TYPES.find((type) => MediaRecorder.isTypeSupported?.(type));
  const recorder = new MediaRecorder(stream, mimeType ? { mimeType, audioBitsPerSecond: 64000 } : undefined);
  state.recorder = recorder;
  state.parts = [];
  recorder.addEventListener("dataavailable", (event) => {
    if (!event.data.size) return;
    state.parts.push(event.data);
    if (state.live && !state.live.failed) state.live.push(event.data);
  });
  recorder.addEventListener("stop", finished);
  state.live?.cancel();
  state.live = null;
  state.liveSentence = false;
  state.serverWarning = "";
  startLive(recorder);
  recorder.start(1000);
  state.startedAt = performance.now();
  state.pausedFor = 0;
  state.pausedAt = 0;
  state.manualSentence = false;
  state.tick = setInterval(updateClock, 250);
  state.meter.setActive(true);
  highlight(0);
  setState("recording");
  say(t("recording"));
  ui.start.hidden = true;
  ui.start.disabled = false;
  ui.pause.hidden = false;
  ui.pause.textContent = t("pause");
  ui.stop.hidden = false;
  ui.sentenceControls.hidden = false;
  ui.review.hidden = true;
  ui.stop.focus();
}

function togglePause() {
  const recorder = state.recorder;
  if (!recorder) return;
  if (recorder.state === "recording") {
    recorder.pause();
    state.pausedAt = performance.now();
    state.meter.setActive(false);
    warn("");
    setState("paused");
    say(t("paused"));
    ui.pause.textContent = t("resume");
  } else if (recorder.state === "paused") {
    recorder.resume();
    state.pausedFor += performance.now() - state.pausedAt;
    state.pausedAt = 0;
    state.meter.setActive(true);
    setState("recording");
    say(t("recording"));
    ui.pause.textContent = t("pause");
  }
}

function stop() {
  if (!state.recorder || state.recorder.state === "inactive") return;
  if (state.pausedAt) {
    state.pausedFor += performance.now() - state.pausedAt;
    state.pausedAt = 0;
  }
  state.duration = elapsedSeconds();
  state.recorder.stop();
}

// MediaRecorder's WebM has no duration in its header, so the player shows 0:00
// (an "infinite" stream) until it has played to the end. Seeking far past the
// end makes the browser read the file through and learn the real duration.
function learnDuration() {
  if (ui.playback.duration !== Infinity) return;
  const back = () => {
    if (ui.playback.duration === Infinity) return;
    ui.playback.removeEventListener("durationchange", back);
    ui.playback.currentTime = 0;
  };
  ui.playback.addEventListener("durationchange", back);
  ui.playback.currentTime = Number.MAX_SAFE_INTEGER;
}

function finished() {
  const type = state.recorder.mimeType || "audio/webm";
  state.blob = new Blob(state.parts, { type });
  releaseMicrophone();
  ui.elapsed.textContent = clock(state.duration);
  ui.levelBar.style.width = "0%";
  if (ui.playback.src) URL.revokeObjectURL(ui.playback.src);
  ui.playback.addEventListener("loadedmetadata", learnDuration, { once: true });
  ui.playback.src = URL.createObjectURL(state.blob);
  setState("stopped");
  const estimate = Number.parseFloat(root.dataset.estimate) || 0;
  warn(state.duration < estimate * 0.35 ? t("too_short") : "");
  say(t("stopped"));
  ui.pause.hidden = true;
  ui.stop.hidden = true;
  ui.sentenceControls.hidden = true;
  ui.review.hidden = false;
  ui.upload.disabled = false;
  ui.upload.focus();
}

function redo() {
  state.live?.cancel();
  state.live = null;
  ui.playback.pause();
  ui.review.hidden = true;
  ui.result.hidden = true;
  ui.uploadBox.hidden = true;
  ui.again.hidden = true;
  ui.quality.replaceChildren();
  ui.resultStatus.textContent = "";
  ui.upload.disabled = false;
  ui.redo.disabled = false;
  delete root.dataset.recording;
  ui.start.hidden = false;
  ui.elapsed.textContent = clock(0);
  state.blob = null;
  state.startedAt = 0;
  setState("idle");
  say(t("ready"));
  warn("");
  ui.start.focus();
}

// --- Upload and processing status ------------------------------------------------------

function extensionFor(type) {
  if (type.includes("ogg")) return "ogg";
  if (type.includes("mp4")) return "m4a";
  return "webm";
}

async function upload() {
  if (!state.blob) return;
  ui.upload.disabled = true;
  ui.redo.disabled = true;
  ui.uploadBox.hidden = false;
  ui.progress.value = 0;
  setState("uploading");
  say("");
  warn("");
  if (state.live && !state.live.failed && (await finishLive())) return;
  const form = new FormData();
  form.append("script", root.dataset.script);
  form.append("audio", state.blob, `reading.${extensionFor(state.blob.type)}`);
  ui.uploadStatus.textContent = t("uploading", { percent: 0 });
  const result = await uploadWithRetry(root.dataset.uploadUrl, form, {
    onProgress(fraction) {
      const percent = Math.round(fraction * 100);
      ui.progress.value = percent;
      ui.uploadStatus.textContent = t("uploading", { percent });
    },
    onRetry({ attempt, max, seconds }) {
      ui.uploadStatus.textContent = t("retrying", { attempt, max, seconds });
    },
    onOffline() {
      ui.uploadStatus.textContent = t("offline");
    },
  });
  // 200: this exact reading was already stored (e.g. a stream that did end).
  if ((result.status === 201 || result.status === 200) && result.data?.id) {
    uploaded(result.data.id);
    poll(result.data.id);
    return;
  }
  ui.upload.disabled = false;
  ui.redo.disabled = false;
  setState("stopped");
  say(t("stopped"));
  warn(result.status === 0 ? t("upload_gave_up") : t("upload_failed", { detail: errorDetail(result.data, String(result.status)) }));
}

// The reading is on the server: from here on the result panel says what happens to it.
function uploaded(id) {
  ui.progress.value = 100;
  ui.uploadStatus.textContent = t("uploaded");
  ui.uploadBox.hidden = true;
  ui.review.hidden = true;
  ui.result.hidden = false;
  root.dataset.recording = id;
}

// Ends the stream; true when the server took the reading (or refused it for good),
// false when the page should upload the file instead.
async function finishLive() {
  const live = state.live;
  ui.uploadStatus.textContent = live.ready ? liveText.saving : liveText.reconnecting;
  let ended;
  try {
    ended = await live.end();
  } catch (failure) {
    if (failure.code !== 4422) return false;
    ui.review.hidden = true;
    ui.uploadBox.hidden = true;
    ui.result.hidden = false;
    setState("rejected");
    ui.resultStatus.textContent = t("status_rejected", { reason: failure.detail });
    ui.again.hidden = false;
    return true;
  }
  uploaded(ended.recording);
  live.onAfterEnd = () => {
    // The socket closed before the last status: ask over HTTP instead.
    if (!TERMINAL.has(root.dataset.state)) poll(ended.recording);
  };
  live.close();
  return true;
}

function showLiveStatus(message) {
  // A reading given up with "Record this script again" has no say any more.
  if (root.dataset.recording !== message.recording) return;
  setState(message.status);
  showStatus(message);
  if (TERMINAL.has(message.status)) {
    ui.uploadBox.hidden = true;
    poll(message.recording); // one request: the quality figures of the finished recording
  }
}

function showStatus(recording) {
  const count = recording.chunk_count ?? 0;
  const message = {
    uploaded: t("status_uploaded"),
    processing: t("status_processing"),
    // Both catalogue languages use "one" for 1 and "other" for every other count.
    chunked: t(count === 1 ? "status_chunked_one" : "status_chunked_other", { count }),
    rejected: t("status_rejected", { reason: recording.rejection_reason }),
    failed: t("status_failed"),
  }[recording.status];
  ui.resultStatus.textContent = message || recording.status;
  // A rejected reading can be recorded again at once; it does not count as recorded.
  ui.again.hidden = recording.status !== "rejected";
}

function showQuality(recording) {
  const quality = recording.quality || {};
  const rows = [
    [t("duration"), t("seconds", { value: formatNumber(recording.duration, 1) })],
    ...(quality.level ? [[t("level_label"), t(`level_${quality.level}`)]] : []),
    ...(quality.noise ? [[t("noise_label"), t(`noise_${quality.noise}`)]] : []),
    [t("speech"), `${formatNumber((recording.speech_ratio ?? 0) * 100, 0)}%`],
    [t("chunks"), formatNumber(recording.chunk_count ?? 0)],
  ];
  ui.quality.replaceChildren(
    ...rows.flatMap(([label, value]) => {
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.textContent = value;
      return [dt, dd];
    }),
  );
}

async function poll(id) {
  ui.result.hidden = false;
  let delay = 1500;
  for (;;) {
    const response = await api(`${root.dataset.uploadUrl}${id}/`);
    if (root.dataset.recording !== id) return; // the reader has moved on to a new reading
    if (response.ok) {
      const recording = response.data;
      setState(recording.status);
      showStatus(recording);
      if (TERMINAL.has(recording.status)) {
        ui.uploadBox.hidden = true;
        if (recording.status === "chunked") showQuality(recording);
        return;
      }
    } else {
      ui.resultStatus.textContent = t("poll_error");
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 1.5, 10000);
  }
}

// --- Reporting the script ------------------------------------------------------------

async function reportScript(reason) {
  const buttons = [...ui.report.querySelectorAll("[data-reason]")];
  buttons.forEach((button) => {
    button.disabled = true;
  });
  const current = root.dataset.state === "recording" || root.dataset.state === "paused" ? state.sentence : null;
  const response = await api(ui.report.dataset.url, { method: "POST", json: { reason, sentence: current } });
  if (response.ok) {
    ui.reportStatus.textContent = response.data.withdrawn ? t("report_withdrawn") : t("report_sent");
    ui.reportNext.hidden = false;
    ui.report.dataset.reported = reason;
    ui.start.disabled = true;
    return;
  }
  buttons.forEach((button) => {
    button.disabled = false;
  });
  ui.reportStatus.textContent = t("report_failed", { detail: errorDetail(response.data, String(response.status)) });
}

// --- Start-up ------------------------------------------------------------------------

function init() {
  root.hidden = false;
  highlight(0);
  if (!window.isSecureContext) {
    warn(t("insecure"));
    ui.start.disabled = true;
    setState("unsupported");
    return;
  }
  if (!navigator.mediaDevices?.getUserMedia || !window.MediaRecorder) {
    warn(t("unsupported"));
    ui.start.disabled = true;
    setState("unsupported");
    return;
  }
  say(t("ready"));
  ui.start.addEventListener("click", start);
  ui.pause.addEventListener("click", togglePause);
  ui.stop.addEventListener("click", stop);
  ui.redo.addEventListener("click", redo);
  ui.again.addEventListener("click", () => {
    highlight(0);
    redo();
  });
  ui.report?.querySelectorAll("[data-reason]").forEach((button) =>
    button.addEventListener("click", () => reportScript(button.dataset.reason)),
  );
  ui.upload.addEventListener("click", upload);
  window.addEventListener("beforeunload", (event) => {
    if (["recording", "paused", "stopped", "uploading"].includes(root.dataset.state)) event.preventDefault();
  });
}

init();

// Exports page: submit the form to the JSON API, then poll it for progress.
// No build step: a plain ES module served as a static file.

import { loadStrings } from "./strings.js";

const t = loadStrings("export-strings");
const form = document.getElementById("export-form");
const list = document.getElementById("exports-list");
const empty = document.getElementById("exports-empty");
const errorBox = document.getElementById("export-error");
const previewTotals = document.getElementById("preview-totals");
const previewLanguages = document.getElementById("preview-languages");
const submitButton = document.getElementById("export-submit");
const api = form.dataset.api;
const POLL_MS = 2000;
const PREVIEW_DELAY_MS = 300;

function csrfToken() {
  return form.querySelector("input[name=csrfmiddlewaretoken]").value;
}

function checked(name) {
  return [...form.querySelectorAll(`input[name=${name}]:checked`)].map((el) => el.value);
}

function value(name) {
  return form.elements[name].value.trim();
}

// The export a delta follows ("" for a full export); the select is there only
// once the researcher has a finished export.
function since() {
  return form.elements.since ? form.elements.since.value : "";
}

function payload() {
  const body = {
    version: value("version"),
    formats: checked("formats"),
    audio_format: value("audio_format"),
    sample_rate: Number(value("sample_rate")),
    audio: !form.elements.metadata_only.checked,
  };
  if (since()) {
    // A delta keeps the filters and splits of the export it follows.
    body.since = since();
    return body;
  }
  body.filters = {
    languages: checked("languages"),
    statuses: checked("statuses"),
    genders: checked("genders"),
    age_ranges: checked("age_ranges"),
  };
  if (value("min_confidence")) body.filters.min_confidence = Number(value("min_confidence"));
  if (value("date_from")) body.filters.date_from = value("date_from");
  if (value("date_to")) body.filters.date_to = value("date_to");
  body.split = {
    ratios: { train: Number(value("train")), dev: Number(value("dev")), test: Number(value("test")) },
    seed: Number(value("seed") || 0),
    sentence_disjoint: form.elements.sentence_disjoint.checked,
  };
  return body;
}

// Filters and splits come from the base of a delta: their fields rest.
function showMode() {
  const delta = Boolean(since());
  document.getElementById("export-filters").disabled = delta;
  document.getElementById("export-split").disabled = delta;
  const note = document.getElementById("preview-delta");
  note.hidden = !delta;
  note.textContent = delta ? t("preview_delta") : "";
}

async function request(url, options = {}) {
  const response = await fetch(url, {
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    ...options,
  });
  const body = await response.json().catch(() => ({ detail: response.statusText }));
  if (!response.ok) throw new Error(body.detail || `HTTP ${response.status}`);
  return body;
}

function formatBytes(n) {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, val] of Object.entries(attrs)) node.setAttribute(key, val);
  for (const child of children) node.append(child);
  return node;
}

// A choice's name as the form shows it (translated there), else its code.
function labelOf(name, code) {
  const box = [...form.querySelectorAll(`input[name=${name}]`)].find((input) => input.value === code);
  return box?.parentElement.textContent.trim() || code;
}

function formatName(code) {
  return labelOf("formats", code);
}

// The version label of the export a delta follows, as the list shows it.
const versions = new Map();
function baseVersion(id) {
  return versions.get(id) || id.slice(0, 8);
}

function figures(f) {
  return { clips: f.clips, hours: Number(f.hours.toFixed(1)), speakers: f.speakers };
}

// What the export would hold, counted by the server as the filters change.
let previewTimer = null;
let previewAbort = null;

async function preview() {
  previewAbort?.abort();
  previewAbort = new AbortController();
  previewTotals.textContent = t("counting");
  previewTotals.classList.remove("error");
  try {
    const counted = await request(form.dataset.preview, {
      method: "POST", body: JSON.stringify(payload()), signal: previewAbort.signal,
    });
    previewLanguages.replaceChildren(...Object.entries(counted.languages).map(([code, f]) =>
      el("li", {}, t("preview_language", { language: labelOf("languages", code), ...figures(f) }))));
    previewTotals.textContent = counted.clips ? t("preview", figures(counted)) : t("preview_none");
    submitButton.disabled = counted.clips === 0;
  } catch (err) {
    if (err.name === "AbortError") return;
    // The same message the request would get: say it now, where the eye is.
    previewTotals.textContent = err.message;
    previewTotals.classList.add("error");
    previewLanguages.replaceChildren();
    submitButton.disabled = false;
  }
}

function schedulePreview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(preview, PREVIEW_DELAY_MS);
}

function render(exp) {
  const item = el("li", { id: `export-${exp.id}`, class: `export export-${exp.status}` });
  const kinds = exp.formats.map(formatName);
  if (!exp.audio) kinds.push(t("metadata_only"));
  if (exp.since) kinds.push(t("delta_of", { version: baseVersion(exp.since) }));
  item.append(el("strong", {}, `${exp.version} `), `${kinds.join(", ")} — ${t(exp.status)}`);
  const progress = el("progress", { max: "100", value: String(exp.progress.percent) });
  progress.setAttribute("aria-label", t("progress", { version: exp.version }));
  // The step says what a running export is doing; once finished, the status says it all.
  const step = exp.status === "running" && exp.progress.step ? ` · ${exp.progress.step}` : "";
  item.append(el("div", {}, progress, ` ${Math.round(exp.progress.percent)}%${step}`,
    exp.progress.total ? ` (${t("clips_done", { done: exp.progress.done, total: exp.progress.total })})` : ""));
  if (exp.status === "failed") item.append(el("p", { class: "error" }, exp.error));
  if (exp.status === "done") {
    const totals = exp.stats.totals || {};
    item.append(el("p", {}, t("totals", {
      clips: totals.clips, hours: totals.hours, speakers: totals.speakers, size: formatBytes(exp.total_bytes),
    })));
    const files = el("ul", { class: "files" });
    for (const file of exp.files) {
      files.append(el("li", {}, el("a", { href: file.url }, file.path), ` ${formatBytes(file.size)}`));
    }
    item.append(files);
    if (exp.archive_url) item.append(el("a", { class: "button", href: exp.archive_url }, t("download_all")));
  }
  return item;
}

const polling = new Map();

function show(exp) {
  versions.set(exp.id, exp.version);
  const existing = document.getElementById(`export-${exp.id}`);
  const node = render(exp);
  if (existing) existing.replaceWith(node); else list.prepend(node);
  empty.hidden = true;
  if ((exp.status === "queued" || exp.status === "running") && !polling.has(exp.id)) {
    polling.set(exp.id, setTimeout(() => poll(exp.id), POLL_MS));
  }
}

async function poll(id) {
  polling.delete(id);
  try {
    show(await request(`${api}${id}/`));
  } catch (err) {
    polling.set(id, setTimeout(() => poll(id), POLL_MS * 3));
  }
}

async function loadList() {
  const page = await request(api);
  empty.hidden = page.results.length > 0;
  for (const exp of page.results.reverse()) show(exp);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorBox.hidden = true;
  try {
    const created = await request(api, { method: "POST", body: JSON.stringify(payload()) });
    await poll(created.id);
  } catch (err) {
    errorBox.textContent = err.message;
    errorBox.hidden = false;
  }
});

form.addEventListener("input", schedulePreview);
form.addEventListener("change", schedulePreview);
form.elements.since?.addEventListener("change", showMode);
showMode();
preview();
loadList().catch((err) => { errorBox.textContent = err.message; errorBox.hidden = false; });

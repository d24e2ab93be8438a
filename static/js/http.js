// Same-origin JSON calls with the session cookie and Django's CSRF header,
// and an upload that reports progress and survives dropped connections.

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

/**
 * fetch() wrapper: resolves to {ok, status, data, serverNow}; network errors give status 0.
 * `keepalive` lets a request outlive the page (sent while leaving it).
 */
export async function api(url, { method = "GET", json, keepalive = false } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (json !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      keepalive,
      body: json === undefined ? undefined : JSON.stringify(json),
    });
  } catch {
    return { ok: false, status: 0, data: null, serverNow: Date.now() };
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  const date = Date.parse(response.headers.get("Date") || "");
  return { ok: response.ok, status: response.status, data, serverNow: Number.isNaN(date) ? Date.now() : date };
}

/** The first human-readable message of a DRF error body. */
export function errorDetail(data, fallback) {
  if (!data) return fallback;
  if (typeof data.detail === "string") return data.detail;
  for (const value of Object.values(data)) {
    if (Array.isArray(value) && value.length) return String(value[0]);
    if (typeof value === "string") return value;
  }
  return fallback;
}

const RETRYABLE = new Set([0, 408, 429, 502, 503, 504]);

function sendOnce(url, formData, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.timeout = 10 * 60 * 1000;
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    const done = () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = null;
      }
      resolve({ status: xhr.status, data });
    };
    xhr.addEventListener("load", done);
    xhr.addEventListener("error", () => resolve({ status: 0, data: null }));
    xhr.addEventListener("timeout", () => resolve({ status: 0, data: null }));
    xhr.addEventListener("abort", () => resolve({ status: 0, data: null }));
    xhr.send(formData);
  });
}

function waitOnline() {
  if (navigator.onLine !== false) return Promise.resolve();
  return new Promise((resolve) => window.addEventListener("online", resolve, { once: true }));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * POST multipart form data with XMLHttpRequest (fetch has no upload progress).
 * Dropped connections and overloaded servers are retried with growing delays;
 * a client error (4xx) is final. Resolves to {status, data}.
 */
export async function uploadWithRetry(url, formData, { onProgress, onRetry, onOffline, maxAttempts = 6 } = {}) {
  let result = { status: 0, data: null };
  for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
    if (navigator.onLine === false) {
      onOffline?.();
      await waitOnline();
    }
    result = await sendOnce(url, formData, (fraction) => onProgress?.(fraction));
    if (!RETRYABLE.has(result.status)) return result;
    if (attempt === maxAttempts) break;
    const seconds = Math.min(2 ** attempt, 30);
    onRetry?.({ attempt: attempt + 1, max: maxAttempts, seconds });
    await sleep(seconds * 1000);
  }
  return result;
}

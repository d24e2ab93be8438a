// Translated UI strings rendered by Django into a <script type="application/json">.

export function loadStrings(id) {
  const node = document.getElementById(id);
  const strings = node ? JSON.parse(node.textContent) : {};
  return (key, values = {}) =>
    (strings[key] ?? key).replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** m:ss for a number of seconds. */
export function clock(totalSeconds) {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

// Translated UI strings rendered by Django into a <script type="application/json">,
// and numbers written in the page language's digits (১২ on a Bangla page).

const LANGUAGE = document.documentElement.lang || "en";
const DIGITS = (() => {
  try {
    const format = new Intl.NumberFormat(LANGUAGE, { useGrouping: false });
    return [...Array(10).keys()].map((d) => format.format(d));
  } catch {
    return [..."0123456789"];
  }
})();

/** ``text`` with its ASCII digits in the page language's script. */
export function digits(text) {
  return String(text).replace(/[0-9]/g, (d) => DIGITS[Number(d)]);
}

/** A number with ``fractionDigits`` decimals (as toFixed) in the page's digits; "–" when unknown. */
export function formatNumber(value, fractionDigits = 0) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "–";
  return digits(Number(value).toFixed(fractionDigits));
}

export function loadStrings(id) {
  const node = document.getElementById(id);
  const strings = node ? JSON.parse(node.textContent) : {};
  const fill = (name, values) => {
    const value = values[name];
    return typeof value === "number" ? digits(value) : String(value);
  };
  return (key, values = {}) =>
    (strings[key] ?? key).replace(/\{(\w+)\}/g, (whole, name) => (name in values ? fill(name, values) : whole));
}

/** m:ss for a number of seconds, in the page's digits. */
export function clock(totalSeconds) {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  return digits(`${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`);
}

"""Page helpers shared by the browser tests."""

from __future__ import annotations


def chunk_shown(page, previous: str | None = None) -> str:
    """Wait until the task page shows a clip other than ``previous``; return its id."""
    page.wait_for_function(
        "prev => { const el = document.getElementById('task');"
        " return el && el.dataset.chunk && el.dataset.chunk !== prev; }",
        arg=previous,
    )
    return page.locator("#task").get_attribute("data-chunk")


# Added before any page script runs (through the DevTools protocol, so the
# page's own Content-Security-Policy does not stop it): every violation of the
# policy is kept, whether or not the browser also logs it.
CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(
  `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'}`
  + ` at ${e.sourceFile || document.URL}:${e.lineNumber}`));
"""


def watch_errors(page) -> list[str]:
    """Start collecting ``page``'s console errors, uncaught exceptions and CSP
    violations; returns the list they are added to (``csp_violations`` adds the
    page's violations when asked)."""
    errors: list[str] = []
    page.on(
        "console",
        lambda msg: (
            msg.type == "error"
            and errors.append(f"console: {msg.text} ({msg.location.get('url')})")
        ),
    )
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.add_init_script(CSP_WATCH)
    return errors


def csp_violations(page) -> list[str]:
    return [f"CSP: {v}" for v in page.evaluate("window.__cspViolations || []")]


# Text a Bangla page may show in Latin digits: identifiers, not numbers.
LATIN_DIGITS_ALLOWED = ("CC-BY-4.0",)

LATIN_DIGITS = """allowed => {
  const skip = 'kbd, code, script, style, noscript, template, select, option, [translate="no"]';
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    if (!element || element.closest(skip) || !element.checkVisibility()) continue;
    let text = node.textContent;
    for (const ok of allowed) text = text.replaceAll(ok, '');
    if (/[0-9]/.test(text)) found.push(text.trim().slice(0, 60));
  }
  return found;
}"""


def latin_digits(page) -> list[str]:
    """Visible text with Latin digits (a Bangla page writes ১২, not 12)."""
    return page.evaluate(LATIN_DIGITS, list(LATIN_DIGITS_ALLOWED))


def elapsed_at_least(page, seconds: float, timeout: float = 60_000) -> None:
    """Wait until the record page's clock (m:ss, English digits) shows ``seconds``."""
    page.wait_for_function(
        "s => { const [m, ss] = document.getElementById('elapsed').textContent.split(':');"
        " return Number(m) * 60 + Number(ss) >= s; }",
        arg=seconds,
        timeout=timeout,
    )

"""Page helpers shared by the browser tests."""

from __future__ import annotations


def chunk_shown(page, previous: str | None = None) -> str:
    """Wait until the task page shows a clip other than ``previous``; return its id."""
    page.wait_for_function(
        "prev => { const el = document.getElementById('task');"
        " return el.dataset.chunk && el.dataset.chunk !== prev; }",
        arg=previous,
    )
    return page.locator("#task").get_attribute("data-chunk")

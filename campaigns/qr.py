"""The join link as a QR code, drawn on the server as SVG (no script on the page)."""

from __future__ import annotations

import io

import segno


def qr_svg(url: str) -> bytes:
    # Error correction "M" survives a smudged projector or a phone held at an angle.
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=8, border=2, xmldecl=False)
    return out.getvalue()

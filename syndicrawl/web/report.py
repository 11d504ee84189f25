"""The analytics as files: one standalone HTML page (plots embedded, stylesheet inlined), or a PNG per plot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from syndicrawl.web import analytics
from syndicrawl.web.templating import environment, static_file

if TYPE_CHECKING:
    from pathlib import Path


def write_html(data: analytics.Analytics, out: Path, archive: str) -> None:
    """The analytics page as one file that opens anywhere, offline: no link to the server or the web."""
    page = environment().get_template("analytics.html").render(
        data=data, images=analytics.data_uris(data), standalone=True, css=(static_file("style.css") or b"").decode(),
        source=archive, written=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    out.write_text(page, encoding="utf-8")


def write_pngs(data: analytics.Analytics, out: Path) -> list[Path]:
    """Each plot as ``out/NAME.png`` (``out`` made if missing); the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, png in analytics.figures(data, "png").items():
        path = out / f"{name}.png"
        path.write_bytes(png)
        written.append(path)
    return written

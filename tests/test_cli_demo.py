"""``syndicrawl demo`` end to end, as a first-time user runs it: in a directory of their own, then the
command it suggests, copied as printed."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path


def syndicrawl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "SYNDICRAWL_DATA_DIR"}
    return subprocess.run([sys.executable, "-m", "syndicrawl", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env, check=False)


def test_the_chain_command_the_demo_suggests_works_when_copied(tmp_path: Path) -> None:
    """The hint lacked the demo's data directory: copied, it failed and made ./syndicrawl-data."""
    result = syndicrawl("demo", "--port", "0", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    hint = re.search(r"^Syndication chain of the RBN repost \((syndicrawl chain .+)\):$", result.stdout, re.MULTILINE)
    assert hint is not None, result.stdout
    command = shlex.split(hint.group(1))
    assert command[-2:] == ["--data-dir", "syndicrawl-demo"]

    copied = syndicrawl(*command[1:], cwd=tmp_path)

    assert copied.returncode == 0, copied.stderr
    assert copied.stdout.startswith("origin · lendman-blog · http://127.0.0.1:")
    assert "└── copy · rbn · " in copied.stdout
    assert sorted(path.name for path in tmp_path.iterdir()) == ["syndicrawl-demo"]

    # what the repost changed in its parent: a "by AUTHOR" line on top, the author's links gone with their text
    repost = re.search(r"copy · rbn · (http://\S+)", copied.stdout)
    assert repost is not None, copied.stdout
    diffed = syndicrawl("diff", repost.group(1), "--json", *command[-2:], cwd=tmp_path)
    assert diffed.returncode == 0, diffed.stderr
    changed = json.loads(diffed.stdout)
    assert changed["from"]["url"].startswith("http://127.0.0.1:") and changed["to"]["url"] == repost.group(1)
    assert [(edit["kind"], edit["copy_text"] or edit["parent_text"]) for edit in changed["edits"]
            if edit["kind"] in ("header", "links_removed")][:1] == [("header", "by Stephen Lendman")]
    assert {k: v for k, v in changed["summary"].items() if k != "kept"} == {"header": 1, "links_removed": 2}


def test_the_demo_s_stealth_edit_is_found_by_the_revisions_command_it_suggests(tmp_path: Path) -> None:
    """The blog retitles a post and cuts a paragraph after the crawl, without a note: one revision."""
    result = syndicrawl("demo", "--port", "0", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    hint = re.search(r"without a note \((syndicrawl revisions .+)\)\.$", result.stdout, re.MULTILINE)
    assert hint is not None, result.stdout

    found = syndicrawl(*shlex.split(hint.group(1))[1:], "--json", cwd=tmp_path)

    assert found.returncode == 0, found.stderr
    rows = json.loads(found.stdout)
    assert [(row["url"].rsplit("/", 1)[1], row["edits"], row["declared"]) for row in rows] == [
        ("aleppo-and-the-information-war.html", {"title": 1, "paragraph_dropped": 1}, None)
    ]

    # the same edit as diff shows it, between the page's first and latest captures
    diffed = syndicrawl("diff", rows[0]["url"], "--from", "2000-01-01", "--json", "--data-dir", "syndicrawl-demo",
                        cwd=tmp_path)  # fmt: skip
    assert diffed.returncode == 0, diffed.stderr
    changed = json.loads(diffed.stdout)
    assert {k: v for k, v in changed["summary"].items() if k != "kept"} == {"title": 1, "paragraph_dropped": 1}
    assert [edit["copy_text"] for edit in changed["edits"] if edit["kind"] == "title"] == ["Aleppo and the Media"]

"""A crawl of many mixed feeds (#17, "Done when"): 1,200 sources, good, bad and hostile, at once.

Serves ``--hosts`` loopback servers (127.0.0.1, .2, ...; ``benchmarks.hostile_servers``) and
writes one source per feed, dealt round the hosts: about 70% good feeds of ``--posts`` articles,
20% bad (404, 500, malformed XML, an empty 200, a javascript: link, a port that refuses
connections; no DNS lookup: a made-up name could leave the machine) and 10% hostile (the
behaviours of hostile_servers.py at medium sizes). One ``syndicrawl crawl`` runs on all of them,
with a small delay per host, so the sources of a host queue behind each other, and the total
PSS of its processes is sampled every 0.2 s.

    .venv/bin/python benchmarks/many_feeds.py [--sources 1200] [--hosts 4] [--posts 2]

It prints wall time, peak PSS, exit code, bad and hostile sources against the lines naming them
(each must have exactly one; a good source none), good pages stored against expected, and any
stderr line that is not a log line.
"""

from __future__ import annotations

import argparse
import re
import socket
import sys
import tempfile
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repository's packages

from benchmarks.hostile_servers import (  # noqa: E402
    BEHAVIOURS,
    TARGET_PSS_BYTES,
    CrawlRun,
    HostileServer,
    Sizes,
    run_crawl,
    stored,
)

#: The hostile behaviours at sizes a crawl of 1,200 sources meets several times over.
SIZES = Sizes(bomb=100_000_000, links=200, entries=2_000)
#: New entries of one feed (and article links of one page) followed: the caps are met, not crawled.
MAX_ENTRIES = 20
#: Bad feeds: the path on a host (None: the host's refused port) and what the line must say.
BAD = (("/missing.xml", "HTTP 404"), ("/status-500.xml", "HTTP 500"), ("/malformed.xml", "feed"),
       ("/empty.xml", "empty body"), ("/javascript.xml", "javascript:"), (None, "connection refused"))  # fmt: skip


@dataclass(frozen=True)
class Planned:
    source: dict[str, object]
    kind: str  # good, bad, hostile
    expect: str  # a regex its one line must match; the good ones have no line


def _refused_port(host: str) -> int:
    """A port on ``host`` nothing listens on (bound, then closed): connections are refused."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def plan(servers: list[HostileServer], count: int) -> list[Planned]:
    """``count`` sources: of every ten, seven good, two bad, one hostile, dealt round the hosts."""
    refused = {server.base: f"http://{server.host}:{_refused_port(server.host)}" for server in servers}
    planned = []
    for n in range(count):
        server = servers[n % len(servers)]
        slot = n % 10
        if slot < 7:
            planned.append(Planned({"name": f"good-{n}", "feeds": [f"{server.base}/good-{n}.xml"]}, "good", ""))
        elif slot < 9:
            path, expect = BAD[(n // 10 * 2 + slot - 7) % len(BAD)]
            url = f"{refused[server.base]}/feed.xml" if path is None else f"{server.base}{path}"
            planned.append(Planned({"name": f"bad-{n}", "feeds": [url]}, "bad", re.escape(expect)))
        else:
            behaviour = BEHAVIOURS[n // 10 % len(BEHAVIOURS)]
            planned.append(Planned({"name": f"hostile-{behaviour.name}-{n}", behaviour.entry: [server.url(behaviour)]},
                                   "hostile", behaviour.reason))  # fmt: skip
    return planned


@dataclass
class Outcome:
    run: CrawlRun
    lines: Counter[str]  # kind: sources of that kind with exactly one line
    wrong: list[str]  # sources whose lines are not as expected, with them
    pages: int
    expected_pages: int


def crawl_many(work: Path, count: int, hosts: int, posts: int, *, nice: bool = False, timeout: float = 10) -> Outcome:
    with ExitStack() as stack:
        sizes = Sizes(SIZES.bomb, SIZES.links, SIZES.entries, posts=posts)
        servers = [stack.enter_context(HostileServer(sizes, host=f"127.0.0.{n + 1}")) for n in range(hosts)]
        planned = plan(servers, count)
        run = run_crawl(work, [p.source for p in planned], timeout=timeout, entries=MAX_ENTRIES, nice=nice,
                        limit=3600)  # fmt: skip
    pages = {name: counts[0] for name, counts in stored(work / "data").items()}
    lines: Counter[str] = Counter()
    wrong = []
    for p in planned:
        name = str(p.source["name"])
        said = [line for _, line in run.lines_of(name)]
        if p.kind == "good":
            ok = not said and pages.get(name) == posts
        else:
            ok = len(said) == 1 and re.search(p.expect, said[0]) is not None
        lines[p.kind] += len(said) == 1
        if not ok:
            wrong.append(f"{name} ({p.kind}, {pages.get(name, 0)} pages): {said[:3]}")
    good = [str(p.source["name"]) for p in planned if p.kind == "good"]
    return Outcome(run, lines, wrong, sum(pages.get(name, 0) for name in good), len(good) * posts)


def report(outcome: Outcome, planned_kinds: Counter[str]) -> list[str]:
    run = outcome.run
    rows = [
        f"wall {run.seconds:.1f} s, peak PSS {run.peak_pss / 1e6:.0f} MB (target < {TARGET_PSS_BYTES / 1e6:.0f} MB: "
        f"{'met' if run.peak_pss < TARGET_PSS_BYTES else 'NOT met'}), exit {run.returncode}, "
        f"at most {run.peak_fds} open files in one process",
        f"bad sources {planned_kinds['bad']}, with exactly one line {outcome.lines['bad']}; "
        f"hostile {planned_kinds['hostile']}, with exactly one line {outcome.lines['hostile']}",
        f"good sources {planned_kinds['good']}: pages stored {outcome.pages} of {outcome.expected_pages}",
        f"sources not as expected: {len(outcome.wrong)}",
        *(f"    {line[:300]}" for line in outcome.wrong[:15]),
    ]
    if run.unexpected():
        rows.append(f"{len(run.unexpected())} other stderr lines, the first: {run.unexpected()[0][:300]}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=1200)
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--posts", type=int, default=2, help="articles of a good feed")
    parser.add_argument("--keep", type=Path, help="crawl into this directory and keep it")
    args = parser.parse_args()
    kinds = Counter("good" if n % 10 < 7 else "bad" if n % 10 < 9 else "hostile" for n in range(args.sources))
    with tempfile.TemporaryDirectory(prefix="many-feeds-") as tmp:
        work = args.keep or Path(tmp)
        outcome = crawl_many(work, args.sources, args.hosts, args.posts, nice=True)
        print("\n".join(report(outcome, kinds)))


if __name__ == "__main__":
    main()

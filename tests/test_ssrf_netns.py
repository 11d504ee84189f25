"""Names resolving to private addresses, redirects to them and spellings of 127.0.0.1, crawled for real
(#17.11) inside a network namespace whose only interface is loopback (#17.12).

Even a crawler that connected everywhere could not send a packet off this machine: ``unshare``
gives the crawl (``tests/netns_crawl.py``) its own network, where ``lo`` is the only interface and
also holds 10.0.0.1, 169.254.169.254 and a stand-in public address, and its own /etc/hosts, so
names resolve through the real resolver. A trap listens on port 80 of each private address and
counts requests: each must get none. The test network guard is left out there (it refuses the
lookups under test); the namespace is the guard. Skipped where unprivileged namespaces are unavailable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.netns_crawl import HOSTS, PUBLIC, TRAPS

ROOT = Path(__file__).parent.parent
HINT = "a source reaches such addresses only with private_addresses = true."


def _namespaces() -> str | None:
    """Why a loopback-only namespace cannot be made here, or None."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip (util-linux, iproute2) not installed"
    probe = subprocess.run(["unshare", "-rnm", "ip", "link", "set", "lo", "up"], capture_output=True, text=True, check=False)
    return None if probe.returncode == 0 else f"unshare -rnm failed: {probe.stderr.strip()}"


_UNAVAILABLE = _namespaces()
pytestmark = pytest.mark.skipif(_UNAVAILABLE is not None, reason=f"no loopback-only network namespace: {_UNAVAILABLE}")


@pytest.fixture(scope="module")
def crawl(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("netns")
    hosts = work / "hosts"
    hosts.write_text("".join(f"{address} {name}\n" for name, address in HOSTS.items()) + "127.0.0.1 localhost\n")
    setup = " && ".join([
        "ip link set lo up",
        *(f"ip addr add {address}/32 dev lo" for address in (PUBLIC, *TRAPS[1:])),
        f"mount --bind {hosts} /etc/hosts",
        f"exec {sys.executable} -m tests.netns_crawl {work}",
    ])  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # without the network guard: the namespace is the guard
    result = subprocess.run(["unshare", "-rnm", "sh", "-c", setup], capture_output=True, text=True, cwd=ROOT,
                            env=env, timeout=180, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def warnings(crawl: dict, source: str) -> list[str]:
    lines = crawl["stderr"].splitlines()
    return sorted(line.split(" WARNING ", 1)[1] for line in lines if f" WARNING {source}: " in line)


def test_private_addresses_behind_names_and_redirects_get_no_request(crawl: dict) -> None:
    assert crawl["trap_requests"] == {address: 0 for address in TRAPS}, crawl["stderr"]
    public = crawl["public"].replace(PUBLIC, "public.test")
    assert warnings(crawl, "public") == [
        "public: cannot connect to internal.test: refused: internal.test resolves to 10.0.0.1, a private address"
        f" (a redirect from {public}/moved); {HINT}",
        "public: cannot connect to loop.test: refused: loop.test resolves to 127.0.0.1, a loopback address"
        f" (a redirect from {public}/to-loop); {HINT}",
        "public: cannot connect to meta.test: refused: meta.test resolves to 169.254.169.254, a link-local address"
        f" (cloud metadata services live there); {HINT}",
    ], crawl["stderr"]
    assert "Traceback" not in crawl["stderr"]


def test_the_public_site_itself_is_crawled(crawl: dict) -> None:
    assert crawl["expected_article"] in crawl["articles"], crawl["stderr"]


def test_spellings_of_127_0_0_1_are_refused_like_it(crawl: dict) -> None:
    port = crawl["local_port"]
    assert warnings(crawl, "spellings") == sorted([
        f"spellings: cannot connect to {host}:{port}: refused: {host} resolves to 127.0.0.1, a loopback address; {HINT}"
        for host in ("2130706433", "0x7f.1", "0177.0.0.1")
    ] + [
        f"spellings: cannot connect to [::ffff:127.0.0.1]:{port}: refused: ::ffff:127.0.0.1 is 127.0.0.1 in IPv6 form,"
        f" a loopback address; {HINT}",
    ]), crawl["stderr"]


def test_a_source_that_allows_private_addresses_reaches_its_name_on_loopback(crawl: dict) -> None:
    # The only requests the loopback site got: the source that allows it, by its name.
    assert crawl["local_hosts"] == [f"allowed.test:{crawl['local_port']}"], crawl["stderr"]

"""archive.ingest.memory: large buffers freed by one page are reused by the next, not faulted in again."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Pickles a message holding a 125 KB body 200 times, as the crawl sends pages to the archive
# writer, and prints the page faults that cost; with keep_large_blocks() first when asked.
FAULTS = """
import pickle, resource, sys
from archive.ingest.memory import keep_large_blocks
kept = keep_large_blocks() if sys.argv[1] == "keep" else None
body = b"x" * 125_000
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for n in range(200):
    pickle.dumps(("capture", "source", n, body), protocol=pickle.HIGHEST_PROTOCOL)
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True).stdout
    kept, count = out.split()
    return kept, int(count)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc thresholds: Linux only")
def test_large_blocks_are_reused_instead_of_faulted_in_each_time() -> None:
    _, default = faults("default")
    kept, tuned = faults("keep")
    if kept == "False":
        pytest.skip("this Python does not run on glibc")
    assert kept == "True"
    # By default glibc gives the heap's top back after each message (its trim threshold is
    # 128 KiB) and faults the pages of the next one in again: about 30 faults per message.
    assert default > 200 * 20
    # Kept: the first message's pages are faulted in once and reused.
    assert tuned < 200

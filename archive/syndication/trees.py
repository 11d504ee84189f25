"""Placed clusters kept between transactions, so a copy joining one is placed against what
placing it computed (``origin.Tree``) instead of from its members' texts again (issue #23).

A tree is kept only once the transaction that placed it commits: a rolled-back placement is
not remembered. One whose members or parents the database no longer has (another writer
placed the cluster since, a rebuild, a page forgotten) is not used: ``matching`` compares it
with the cluster's rows before each use. The process keeps at most ``MEMBERS`` members' worth
of trees (their texts are in them), the least recently used going first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from sqlalchemy import event
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from archive.syndication.origin import Tree

#: Members of all kept trees together: a few hundred clusters of hundreds, some 50-100 MB of text.
MEMBERS = 20_000
_PENDING = "syndication_trees"
_kept: OrderedDict[int, Tree] = OrderedDict()
_size = 0
_lock = threading.Lock()


def get(session: Session, cluster_id: int) -> Tree | None:
    """The tree of a cluster as this session last placed it, else as a committed one did."""
    pending = session.info.get(_PENDING, {})
    if cluster_id in pending:
        return pending[cluster_id]
    with _lock:
        tree = _kept.get(cluster_id)
        if tree is not None:
            _kept.move_to_end(cluster_id)
        return tree


def put(session: Session, cluster_id: int, tree: Tree) -> None:
    """Keep ``tree`` for its cluster once ``session`` commits."""
    session.info.setdefault(_PENDING, {})[cluster_id] = tree


def clear() -> None:
    """Forget every tree (``dedup rebuild`` places everything again)."""
    global _size
    with _lock:
        _kept.clear()
        _size = 0


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    global _size
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    with _lock:
        for cluster_id, tree in pending.items():
            old = _kept.pop(cluster_id, None)
            _size += len(tree.members) - (len(old.members) if old is not None else 0)
            _kept[cluster_id] = tree
        while _size > MEMBERS and _kept:
            _size -= len(_kept.popitem(last=False)[1].members)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, _transaction: object) -> None:
    session.info.pop(_PENDING, None)

"""The near-duplicate index: MinHash LSH whose buckets are rows of the project database.

Each article's signature (``archive.fingerprint.signature``) is cut into ``bands`` bands of
``rows`` values; two articles become candidates when any band is equal in both. A band is
stored as one row of ``minhash_bands``: a signed 64-bit key packing the band number (top 8
bits) and a 56-bit hash of the band's values, plus the article id. The primary key
``(key, article_id)`` is the lookup index (a clustered ``WITHOUT ROWID`` tree on SQLite), so
a query is one ``IN`` over ``bands`` keys: O(log n), flat from ten thousand to millions of
articles, and nothing is held in memory. ``article_fingerprints`` keeps each article's
signature, from which its keys are recomputed for removal, and optionally its shingles, so
candidates are verified by exact containment without re-extracting or re-shingling text.

``query`` returns candidates, not matches: the caller verifies them (``fingerprint.containment``
both ways on ``fingerprints()``). Candidates are ordered by the number of bands they share
with the query, which grows with their similarity: a copy shares ~10 of 64, a page that only
shares an author bio with the query usually 1, so ``limit`` bounds verification work.

Measured with ``benchmarks/dedup_scale.py`` (SQLite, 2 busy cores): a lookup takes ~1 ms at
10k and at 1M articles (p99 1.7 ms), finds every planted copy and excerpt, and 1M articles
take 2 GiB including their articles rows. Band rows are written with
``executemany`` on SQLite and binary ``COPY`` on PostgreSQL.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select

from archive.db.engine import Database
from archive.db.models import ArticleFingerprint, minhash_bands
from archive.errors import ConfigError
from archive.syndication.fingerprint import EMPTY_HASH, NUM_PERM, fmix64

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session

    # What ``add_many`` takes for one article: its id, signature and shingles (or None).
    Item = tuple[int, NDArray[np.uint32], NDArray[np.uint64] | None]

logger = logging.getLogger(__name__)

# A repost that changes 10% of the words (each change breaks up to 5 shingles) and drops a
# paragraph keeps a 5-shingle Jaccard of ~0.39 (1st percentile 0.26 in the benchmark); an
# excerpt of half an article ~0.45. At 0.3 with 128 permutations this gives 64 bands of 2
# rows: a pair at 0.3 shares a band with probability 0.998, at 0.39 0.99997. Bands of 3
# rows would need 169 bands (507 permutations) for the same recall.
DEFAULT_THRESHOLD = 0.3
RECALL = 0.99
_BAND_BITS = 8
# Powers of an odd 64-bit constant: weights of a band's values in its hash.
_ROW_WEIGHTS = np.cumprod(np.array([1] + [0x9E3779B97F4A7C15] * 63, dtype=np.uint64))
# Articles written per transaction by ``add_many``. Band rows are sorted before they are
# inserted, so a batch sweeps the key index once: a page of the index is rewritten once
# per batch whatever the number of rows it receives, so large batches amortise writes
# (measured at 1M articles: 100k per batch is 3x faster than 20k). Memory: ~0.2 KB per
# article of the batch (signatures and band rows; shingles are streamed).
BATCH_SIZE = 100_000
# Bound on bind parameters per statement (SQLite allows 32766).
_IN_CHUNK = 10_000
# Articles whose fingerprint rows are written (and old rows looked up) per statement.
_WRITE_CHUNK = 2_000

# PostgreSQL's binary COPY format: a header, then per row a field count and each field's
# size and big-endian value, then a -1 field count.
_PG_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_PG_COPY_ROW = np.dtype(
    [("fields", ">i2"), ("key_size", ">i4"), ("key", ">i8"), ("id_size", ">i4"), ("article_id", ">i8")]
)
_PG_COPY_TRAILER = b"\xff\xff"
# PostgreSQL's planner scans a table whose statistics say it is small instead of using the
# key index: 83 ms instead of 0.4 ms per query, measured after adding 10k articles, until
# autovacuum analyses it, and never inside the transaction that added them. So the index
# analyses its tables each time the articles it added have doubled, from this many on.
_ANALYZE_FROM = 200

@dataclass(frozen=True, slots=True)
class Fingerprint:
    """An article's stored signature and, when they were given to ``add``, its shingles."""

    article_id: int
    signature: NDArray[np.uint32]
    shingles: NDArray[np.uint64] | None


def lsh_bands(threshold: float, num_perm: int, recall: float = RECALL) -> tuple[int, int]:
    """Return ``(bands, rows)``: the most rows per band that still find ``recall`` of pairs at ``threshold``.

    Two sets of Jaccard similarity s share a band with probability 1 - (1 - s^rows)^bands.
    More rows per band mean far fewer chance collisions (s^rows falls fast for small s), so
    the longest band that keeps the recall is the cheapest to verify.
    """
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= recall:
            return bands, rows
    raise ValueError(f"{num_perm} permutations cannot find {recall:.0%} of pairs at Jaccard {threshold}")


def band_keys(sig: NDArray[np.uint32], bands: int, rows: int) -> NDArray[np.int64]:
    """Return the ``bands`` index keys of a signature (none for the signature of an empty set).

    Key = band number in the top 8 bits, a 56-bit hash of the band's values below: one
    BIGINT column serves every band and two bands never share a key.
    """
    if (sig == EMPTY_HASH).all():
        return np.empty(0, dtype=np.int64)
    return _keys(sig[None, :], bands, rows)[0]


def _keys(sigs: NDArray[np.uint32], bands: int, rows: int) -> NDArray[np.int64]:
    """``band_keys`` of a stack of signatures, shape (n, bands), empty sets included."""
    values = sigs[:, : bands * rows].astype(np.uint64).reshape(len(sigs), bands, rows)
    # v0 + v1 * C + v2 * C^2 ...: one pass over the rows, then one finaliser
    mixed = fmix64((values * _ROW_WEIGHTS[:rows]).sum(axis=2, dtype=np.uint64))
    number = np.arange(bands, dtype=np.uint64) << np.uint64(64 - _BAND_BITS)
    return (number | (mixed >> np.uint64(_BAND_BITS))).view(np.int64)


def _to_blob(values: NDArray[np.uint32] | NDArray[np.uint64], dtype: str) -> bytes:
    return np.ascontiguousarray(values, dtype=dtype).tobytes()


def _driver_sql(conn: Connection, sql: str) -> str:
    """Adapt a ``?``-placeholder statement to the driver (psycopg uses ``%s``)."""
    return sql if conn.dialect.paramstyle == "qmark" else sql.replace("?", "%s")


def _executemany(cursor: Any, sql: str, first: NDArray[np.int64], second: NDArray[np.int64]) -> None:
    """Run ``sql`` once per pair of values, a slice at a time.

    A batch's band rows as one list of Python tuples would take ~100 bytes each.
    """
    step = 1 << 16
    for start in range(0, len(first), step):
        cursor.executemany(
            sql, zip(first[start : start + step].tolist(), second[start : start + step].tolist(), strict=True)
        )


def _copy_band_rows(cursor: Any, keys: NDArray[np.int64], article_ids: NDArray[np.int64]) -> None:
    """Write band rows with PostgreSQL's binary COPY, built by numpy: ~20x faster than
    one INSERT per row, which caps a rebuild at a few hundred articles a second."""
    rows = np.empty(len(keys), dtype=_PG_COPY_ROW)
    rows["fields"], rows["key_size"], rows["key"] = 2, 8, keys
    rows["id_size"], rows["article_id"] = 8, article_ids
    with cursor.copy("COPY minhash_bands (key, article_id) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(_PG_COPY_HEADER)
        for start in range(0, len(rows), 1 << 16):
            copy.write(rows[start : start + (1 << 16)].tobytes())
        copy.write(_PG_COPY_TRAILER)


def _chunks(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class NearDupIndex:
    """MinHash LSH over the articles in the database: add, query, remove, persisted.

    ``threshold`` is the Jaccard similarity down to which pairs are found with 99%
    probability; it and ``num_perm`` fix the band layout, so a database keeps the values it
    was built with (the index checks this on first use). Each method runs in its own
    transaction, or in the caller's when given ``session=`` (needed on SQLite when the
    caller already holds the write lock, e.g. to add an article and its fingerprint in
    one commit).
    """

    def __init__(
        self,
        database: Database | Callable[[], Session],
        *,
        threshold: float = DEFAULT_THRESHOLD,
        num_perm: int = NUM_PERM,
    ) -> None:
        # With a Database, own transactions run on engine connections: a Session costs
        # ~0.25 ms per query on top of a ~0.4 ms lookup.
        self._database = database if isinstance(database, Database) else None
        self._new_session = database.session if isinstance(database, Database) else database
        self.threshold = threshold
        self.num_perm = num_perm
        self.bands, self.rows = lsh_bands(threshold, num_perm)
        if self.bands > 1 << _BAND_BITS:
            raise ValueError(f"{self.bands} bands do not fit the key's {_BAND_BITS} band bits")
        self._checked = False
        self._analysed = self._unanalysed = 0

    # --- writing ---------------------------------------------------------------------------

    def add(
        self,
        article_id: int,
        sig: NDArray[np.uint32],
        shingles: NDArray[np.uint64] | None = None,
        *,
        session: Session | None = None,
    ) -> None:
        """Index an article, replacing what was indexed for it before."""
        self.add_many([(article_id, sig, shingles)], session=session)

    def add_many(
        self,
        items: Iterable[Item],
        *,
        batch_size: int = BATCH_SIZE,
        session: Session | None = None,
    ) -> int:
        """Index many ``(article_id, signature, shingles or None)``, ids unique; return how many.

        Items are consumed as they come (only signatures are kept until the batch's band
        rows are written), one transaction per ``batch_size`` articles or all in the
        caller's ``session``: an interrupted rebuild keeps the batches already committed,
        and running it again replaces them.
        """
        iterator = iter(items)
        count = 0
        while True:
            with self._connection(session) as conn:
                self._check_parameters(conn)
                added = self._add_batch(conn, islice(iterator, batch_size))
                self._keep_statistics(conn, added)
            count += added
            if added < batch_size:
                return count

    def remove(self, article_id: int, *, session: Session | None = None) -> bool:
        """Drop an article from the index; return whether it was there."""
        with self._connection(session) as conn:
            self._check_parameters(conn)
            return self._delete(conn, [article_id]) > 0

    def clear(self, *, session: Session | None = None) -> None:
        """Empty the index (before a rebuild with other parameters)."""
        with self._connection(session) as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("TRUNCATE minhash_bands, article_fingerprints")
            else:
                conn.execute(minhash_bands.delete())
                conn.execute(ArticleFingerprint.__table__.delete())
        self._checked = False
        self._analysed = self._unanalysed = 0
        logger.info("near-duplicate index cleared")

    def _add_batch(self, conn: Connection, items: Iterable[Item]) -> int:
        ids: list[int] = []
        sigs: list[NDArray[np.uint32]] = []
        cursor = conn.connection.cursor()
        try:
            for chunk in _chunks(items, _WRITE_CHUNK):
                for article_id, sig, _ in chunk:
                    self._check_signature(article_id, sig)
                self._delete(conn, [article_id for article_id, _, _ in chunk])
                cursor.executemany(
                    _driver_sql(
                        conn,
                        "INSERT INTO article_fingerprints (article_id, signature, shingles) VALUES (?, ?, ?)",
                    ),
                    [
                        (
                            article_id,
                            _to_blob(sig, "<u4"),
                            None if shingles is None else _to_blob(shingles, "<u8"),
                        )
                        for article_id, sig, shingles in chunk
                    ],
                )
                ids.extend(article_id for article_id, _, _ in chunk)
                sigs.extend(sig for _, sig, _ in chunk)
            if ids:
                keys, key_ids = self._band_rows(np.array(ids, dtype=np.int64), np.stack(sigs))
                order = np.lexsort((key_ids, keys))
                if conn.dialect.name == "postgresql":
                    _copy_band_rows(cursor, keys[order], key_ids[order])
                else:
                    _executemany(
                        cursor,
                        "INSERT INTO minhash_bands (key, article_id) VALUES (?, ?)",
                        keys[order],
                        key_ids[order],
                    )
        finally:
            cursor.close()
        return len(ids)

    def _band_rows(
        self, ids: NDArray[np.int64], sigs: NDArray[np.uint32]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Keys and article ids of the band rows of these signatures (none for empty sets)."""
        indexed = ~(sigs == EMPTY_HASH).all(axis=1)
        return _keys(sigs[indexed], self.bands, self.rows).ravel(), np.repeat(ids[indexed], self.bands)

    def _delete(self, conn: Connection, article_ids: list[int]) -> int:
        """Delete the fingerprints and band rows of ``article_ids``; return how many were indexed."""
        stored = self._load(conn, article_ids, with_shingles=False)
        if not stored:
            return 0
        keys, key_ids = self._band_rows(
            np.fromiter(stored, dtype=np.int64, count=len(stored)),
            np.stack([fingerprint.signature for fingerprint in stored.values()]),
        )
        cursor = conn.connection.cursor()
        try:
            _executemany(
                cursor,
                _driver_sql(conn, "DELETE FROM minhash_bands WHERE key = ? AND article_id = ?"),
                keys,
                key_ids,
            )
            cursor.executemany(
                _driver_sql(conn, "DELETE FROM article_fingerprints WHERE article_id = ?"),
                [(i,) for i in stored],
            )
        finally:
            cursor.close()
        return len(stored)

    # --- reading ---------------------------------------------------------------------------

    def query(
        self, sig: NDArray[np.uint32], *, limit: int | None = None, session: Session | None = None
    ) -> list[int]:
        """Return the ids of indexed articles sharing a band with ``sig``, most bands first.

        Unverified candidates: they include articles that only share boilerplate or a
        quoted passage, and the queried article itself once it is indexed.
        """
        keys = self.keys(sig).tolist()
        if not keys:
            return []
        placeholders = ", ".join("?" * len(keys))
        # Grouped first, so only each distinct candidate (not each band row) is checked
        # against article_fingerprints: band rows of a deleted article are ignored.
        sql = (
            "SELECT c.article_id FROM (SELECT article_id, count(*) AS shared FROM minhash_bands"
            f" WHERE key IN ({placeholders}) GROUP BY article_id) AS c"
            " WHERE EXISTS (SELECT 1 FROM article_fingerprints f WHERE f.article_id = c.article_id)"
            " ORDER BY c.shared DESC, c.article_id"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._connection(session) as conn:
            self._check_parameters(conn)
            # The DBAPI cursor directly: SQLAlchemy's result layer would double the lookup's cost.
            cursor = conn.connection.cursor()
            try:
                cursor.execute(_driver_sql(conn, sql), keys)
                return [article_id for (article_id,) in cursor.fetchall()]
            finally:
                cursor.close()

    def query_many(self, sigs: Sequence[NDArray[np.uint32]], *, session: Session | None = None) -> list[list[int]]:
        """``query`` for several signatures with one scan of the band rows: each one's candidate
        ids, most bands first. Unlike ``query``, band rows of an article no longer indexed
        may be among them; loading their fingerprints weeds those out."""
        keys = self.keys_many(sigs)
        wanted = np.unique(np.concatenate(keys)).tolist() if keys else []
        owners: dict[int, list[int]] = {}
        with self._connection(session) as conn:
            self._check_parameters(conn)
            cursor = conn.connection.cursor()
            try:
                for start in range(0, len(wanted), _IN_CHUNK):
                    chunk = wanted[start : start + _IN_CHUNK]
                    cursor.execute(
                        _driver_sql(
                            conn,
                            f"SELECT key, article_id FROM minhash_bands WHERE key IN ({', '.join('?' * len(chunk))})",
                        ),
                        chunk,
                    )
                    for key, article_id in cursor.fetchall():
                        owners.setdefault(key, []).append(article_id)
            finally:
                cursor.close()
        found = []
        for row in keys:
            shared: Counter[int] = Counter()
            for key in owners.keys() & set(row.tolist()):
                shared.update(owners[key])
            found.append(sorted(shared, key=lambda article_id: (-shared[article_id], article_id)))
        return found

    def keys(self, sig: NDArray[np.uint32]) -> NDArray[np.int64]:
        """The band keys of ``sig`` in this index's layout."""
        return band_keys(sig, self.bands, self.rows)

    def keys_many(self, sigs: Sequence[NDArray[np.uint32]]) -> list[NDArray[np.int64]]:
        """``keys`` of each signature, computed together (a batch's keys in one numpy pass)."""
        if not len(sigs):
            return []
        stacked = np.stack(sigs)
        empty = (stacked == EMPTY_HASH).all(axis=1)
        return [keys[:0] if unset else keys for keys, unset in zip(_keys(stacked, self.bands, self.rows), empty, strict=True)]

    def fingerprints(
        self, article_ids: Iterable[int], *, with_shingles: bool = True, session: Session | None = None
    ) -> dict[int, Fingerprint]:
        """Return the stored fingerprints of those ``article_ids`` that are indexed."""
        with self._connection(session) as conn:
            return self._load(conn, list(article_ids), with_shingles=with_shingles)

    def __len__(self) -> int:
        """Number of indexed articles."""
        with self._connection(None) as conn:
            return int(conn.exec_driver_sql("SELECT count(*) FROM article_fingerprints").scalar_one())

    def _load(
        self, conn: Connection, article_ids: list[int], *, with_shingles: bool
    ) -> dict[int, Fingerprint]:
        table = ArticleFingerprint.__table__
        columns = [table.c.article_id, table.c.signature]
        if with_shingles:
            columns.append(table.c.shingles)
        found: dict[int, Fingerprint] = {}
        for start in range(0, len(article_ids), _IN_CHUNK):
            chunk = article_ids[start : start + _IN_CHUNK]
            for row in conn.execute(select(*columns).where(table.c.article_id.in_(chunk))):
                shingles = row[2] if with_shingles else None
                found[row[0]] = Fingerprint(
                    article_id=row[0],
                    signature=np.frombuffer(row[1], dtype="<u4").astype(np.uint32),
                    shingles=None
                    if shingles is None
                    else np.frombuffer(shingles, dtype="<u8").astype(np.uint64),
                )
        return found

    # --- plumbing --------------------------------------------------------------------------

    @contextmanager
    def _connection(self, session: Session | None) -> Iterator[Connection]:
        if session is not None:
            yield session.connection()
        elif self._database is not None and self._checked:
            with self._database.engine.begin() as conn:
                yield conn
        else:  # a first Session also brings a Database's schema up to date
            with self._new_session() as own, own.begin():
                yield own.connection()

    def _keep_statistics(self, conn: Connection, added: int) -> None:
        """On PostgreSQL, ``ANALYZE`` once the articles added since the last one match those before it."""
        if conn.dialect.name != "postgresql":
            return
        self._unanalysed += added
        if self._unanalysed >= max(_ANALYZE_FROM, self._analysed):
            conn.exec_driver_sql("ANALYZE minhash_bands, article_fingerprints")
            self._analysed += self._unanalysed
            self._unanalysed = 0

    def _check_signature(self, article_id: int, sig: NDArray[np.uint32]) -> None:
        if sig.shape != (self.num_perm,):
            raise ValueError(
                f"article {article_id}: signature of shape {sig.shape}, the index needs ({self.num_perm},)"
            )

    def _check_parameters(self, conn: Connection) -> None:
        """Refuse a database whose index was built with another ``num_perm`` or band layout.

        Keys of another layout never match, so queries would silently find nothing. One
        indexed article is checked, once per ``NearDupIndex``.
        """
        if self._checked:
            return
        table = ArticleFingerprint.__table__
        row = conn.execute(select(table.c.article_id, table.c.signature).limit(1)).first()
        if row is not None and not self._layout_matches(
            conn, row.article_id, np.frombuffer(row.signature, dtype="<u4")
        ):
            raise ConfigError(
                f"the near-duplicate index in {conn.engine.url.render_as_string(hide_password=True)} was built "
                f"with other parameters than num_perm={self.num_perm}, threshold={self.threshold} "
                f"({self.bands} bands of {self.rows} rows): open it with those it was built with, "
                "or clear() it and add every article again"
            )
        self._checked = True

    def _layout_matches(self, conn: Connection, article_id: int, sig: NDArray[np.uint32]) -> bool:
        if len(sig) != self.num_perm:
            return False
        keys = band_keys(sig, self.bands, self.rows).tolist()
        if not keys:  # an empty text has no bands to compare
            return True
        stored = select(minhash_bands.c.key).where(
            minhash_bands.c.article_id == article_id, minhash_bands.c.key.in_(keys)
        )
        return conn.scalar(stored.limit(1)) is not None

"""Where finished WARC files are kept, and how any machine reads them back.

``[storage] warc_storage`` is a directory (this machine's, or one every machine mounts) or an
object storage URL (``s3://bucket/prefix``: any S3-compatible server, through fsspec and s3fs).
With a URL, a crawl writes its files into the data directory's ``warcs/`` as before and uploads
each once it is finished and indexed, then removes its own copy; the catalog names a file by its
name, which is the same in every machine's storage URL (``URL/NAME``). A record is read with a
ranged request (s3fs fetches only the bytes a read asks for, and a block after), so a snapshot
costs one request, not the file. The endpoint and credentials come from the environment, as for
any AWS client (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``): no secret
is written in a settings file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from archive.errors import ConfigError, WarcError
from archive.warc.writer import OPEN_SUFFIX

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

#: Object storage schemes ``warc_storage`` may name (those tested; fsspec knows more).
SCHEMES = ("s3",)
#: Bytes fetched past a read: a record's read is one request; a scan reads ahead in blocks this big.
_BLOCK = 1024 * 1024


def is_url(location: str | Path) -> bool:
    return isinstance(location, str) and "://" in location


def filesystem(url: str) -> tuple[AbstractFileSystem, str]:
    """fsspec's filesystem for ``url`` and the path in it; a missing s3fs is one line saying what to install."""
    try:
        import fsspec  # s3fs brings it: not installed without the s3 extra

        return fsspec.core.url_to_fs(url)  # type: ignore[no-any-return]
    except ImportError as exc:
        raise ConfigError(f"{url}: object storage needs s3fs (pip install 'syndicrawl[s3]'): {exc}") from exc


def open_file(location: Path | str) -> BinaryIO:
    """A WARC file opened for reading, seekable: a local path, or a storage URL read by ranges."""
    try:
        if is_url(location):
            fs, path = filesystem(str(location))
            return fs.open(path, "rb", block_size=_BLOCK, cache_type="readahead")  # type: ignore[no-any-return]
        return open(location, "rb")
    except (OSError, ValueError) as exc:
        raise WarcError(f"cannot open WARC file {location}: {exc}") from exc


@dataclass(frozen=True)
class WarcStorage:
    """``local``: where this machine's crawls write WARC files (the storage itself when ``remote`` is
    empty); ``remote``: the object storage URL they are uploaded to once finished."""

    local: Path
    remote: str = ""

    def url(self, name: str) -> str:
        """The storage URL of the file ``name`` (its path, without object storage)."""
        return f"{self.remote.rstrip('/')}/{name}" if self.remote else str(self.local / name)

    def location(self, name: str) -> Path | str:
        """Where to read the file ``name``: here (finished, or ``.open`` while a crawl still writes
        it), else the object storage."""
        path = self.local / name
        if path.exists():
            return path
        still_open = path.with_name(path.name + OPEN_SUFFIX)
        if still_open.exists():
            return still_open
        return self.url(name) if self.remote else path

    def upload(self, path: Path) -> None:
        """Put the finished file ``path`` into the object storage, then remove it here."""
        if not self.remote:
            return
        fs, target = filesystem(self.url(path.name))
        try:
            fs.put_file(str(path), target)
        except Exception as exc:  # noqa: BLE001 - botocore's errors are many; the file stays here, readable
            raise WarcError(f"cannot upload {path} to {self.url(path.name)}: {exc}; it stays in {self.local}") from exc
        path.unlink()

    def size(self, name: str) -> int:
        location = self.location(name)
        if is_url(location):
            fs, path = filesystem(str(location))
            return int(fs.size(path))
        return Path(location).stat().st_size

    def names(self) -> list[str]:
        """The finished files in the storage (with object storage, those uploaded)."""
        return sorted(self.sizes())

    def sizes(self) -> dict[str, int]:
        """The size of each file in the storage (here: the ``.open`` ones too; with object storage, those uploaded)."""
        if not self.remote:
            return {p.name: p.stat().st_size for p in self.local.glob("*.warc*")} if self.local.is_dir() else {}
        fs, root = filesystem(self.remote)
        return {Path(entry["name"]).name: int(entry["size"]) for entry in fs.ls(root, detail=True)} if fs.exists(root) else {}


def storage(location: WarcStorage | Path) -> WarcStorage:
    """``location`` as a ``WarcStorage`` (a directory is one without object storage)."""
    return location if isinstance(location, WarcStorage) else WarcStorage(Path(location))

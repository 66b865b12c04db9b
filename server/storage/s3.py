"""Blob store on S3-compatible object storage (AWS S3, MinIO, Ceph RGW), with a local cache.

:class:`S3BlobStore` keeps the interface of :class:`~server.storage.local.LocalBlobStore` by
extending it: its local folder (``<data_dir>/s3-cache/<blobs|media>``) stages the blobs
being written and caches blobs read or uploaded; the bucket is every blob's durable home.
Keys are the local store's (``YYYY/MM/DD/HH/<uuid>[.<tag>].dcm``), stored as objects
``<prefix><blobs|media>/<key>``.

Writing
    :meth:`~LocalBlobStore.create` gives a descriptor of a staged file as before (ingest
    appends request chunks to it while the header is parsed elsewhere) and
    :meth:`~LocalBlobStore.complete` renames it. :meth:`S3BlobStore.sync` uploads every
    staged blob of a batch concurrently (``PutObject``, or a multipart upload in parts of
    ``part_bytes`` read from the file: never more than a part per transfer thread in
    memory) and returns only once the endpoint answered 200 for each, so the local store's
    contract holds: the index references a blob only after ``sync`` returned. A failed
    upload raises :class:`OSError` (s3transfer aborts a multipart upload that failed; a
    killed process leaves one behind, which a bucket lifecycle rule
    ``AbortIncompleteMultipartUpload`` removes) and ingest then fails the batch and deletes
    what it wrote, so no row points at a missing object.
Clean and dirty files
    An uploaded or downloaded file is made read-only (mode 0440): it is a clean copy that
    eviction may remove. A writable file is staged and not uploaded yet; eviction never
    touches it, and the start-up sweep (:meth:`S3BlobStore.remove_partial`) deletes those
    a killed process left.
Reading
    A cached copy is read like a local blob. Otherwise :meth:`S3BlobStore.open_reader`
    reads byte ranges with ranged GETs (a frame, the header for rendering, slices of a
    file being sent; small reads fetch
    :data:`~server.storage.readers.READAHEAD` bytes so that the Pixel Data
    element header and what follows cost one request), :meth:`S3BlobStore.read` and
    :meth:`S3BlobStore.path` download the object into the cache first (code that opens
    files: pydicom, ingest's re-reads, thumbnails). The cache is kept near ``cache_bytes``
    by removing the least recently used clean files.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from boto3.s3.transfer import TransferConfig, create_transfer_manager
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from server.storage.local import HOUR_FOLDER_DIGITS, LocalBlobStore, since_allows
from server.storage.readers import BlobReader, FileReader, RangeReader

CLEAN_MODE = 0o440
"""Mode of a cached file that is in the bucket (read-only: a clean copy)."""
MIN_PART_BYTES = 5 << 20
"""The smallest part S3 accepts in a multipart upload (all but the last part)."""
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_BLOB_SUFFIX = ".dcm"


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key prefix (empty, or ending in ``/``).

    Examples
    --------
    >>> S3Location.parse("s3://archive/site-a")
    S3Location(bucket='archive', prefix='site-a/')
    """

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """The location of ``s3://bucket[/prefix]``.

        Raises
        ------
        ValueError
            ``url`` is not of that form; the message quotes it.
        """
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"WORKBENCH_BLOB_URL must be s3://bucket[/prefix]; got {url!r}")
        prefix = parts.path.strip("/")
        return cls(parts.netloc, f"{prefix}/" if prefix else "")


def make_client(*, endpoint_url: str | None = None, region: str | None = None,
                access_key_id: str | None = None, secret_access_key: str | None = None,
                addressing_style: str = "auto", connections: int = 32) -> Any:
    """A thread-safe boto3 S3 client for any S3-compatible endpoint.

    Parameters
    ----------
    endpoint_url
        ``https://minio.example:9000`` and the like; None: AWS.
    region
        The region (None: boto3's configuration chain; MinIO accepts any).
    access_key_id, secret_access_key
        Static credentials; None: the standard chain (``AWS_*`` variables, shared
        configuration files, an instance or container role).
    addressing_style
        ``auto``, ``path`` (most MinIO and Ceph set-ups) or ``virtual``.
    connections
        Size of the HTTP connection pool (concurrent requests).
    """
    config = Config(retries={"max_attempts": 4, "mode": "standard"},
                    max_pool_connections=connections, connect_timeout=5, read_timeout=60,
                    s3={"addressing_style": addressing_style})
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, region_name=region, aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key, config=config)


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _reason(exc: Exception) -> str:
    """What went wrong, without the request (which names no patient but is long)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


class _PastEnd(Exception):
    """A ranged read starting at or after the end of the object (HTTP 416)."""


class S3BlobStore(LocalBlobStore):
    """Blobs in a bucket of an S3-compatible object store, staged and cached locally.

    Parameters
    ----------
    client
        A boto3 S3 client (:func:`make_client`).
    location
        Bucket and prefix.
    kind
        The folder under the prefix: ``blobs`` (DICOM instances) or ``media``.
    cache
        The local folder for staged and cached blobs; created if missing.
    cache_bytes
        Clean cached files beyond this many bytes are removed, least recently used first.
    part_bytes
        Blobs larger than this are uploaded in parts of this size (at least 5 MiB).
    keep_recent_s
        A cached file used within this many seconds is not evicted (a reader may be about
        to open the path it was given).
    """

    def __init__(self, client: Any, location: S3Location, kind: str, cache: Path, *,
                 cache_bytes: int = 2 << 30, part_bytes: int = 16 << 20,
                 keep_recent_s: float = 60.0) -> None:
        if part_bytes < MIN_PART_BYTES:
            raise ValueError(f"part_bytes must be at least {MIN_PART_BYTES} (S3's smallest "
                             f"multipart part); got {part_bytes}")
        super().__init__(cache)
        self.client = client
        self.bucket = location.bucket
        self.base = f"{location.prefix}{kind}/"
        self.cache_bytes = cache_bytes
        self.keep_recent_s = keep_recent_s
        self._transfers = create_transfer_manager(client, TransferConfig(
            multipart_threshold=part_bytes, multipart_chunksize=part_bytes,
            max_concurrency=16, use_threads=True))
        self._evictor = ThreadPoolExecutor(1, thread_name_prefix="s3-cache-evict")
        self._cache_lock = threading.Lock()
        self._added = 0
        self._evicting = False

    # -- names -----------------------------------------------------------------------------
    def object_key(self, key: str) -> str:
        """The object key of blob ``key``."""
        return self.base + key

    def url(self, key: str) -> str:
        """``s3://bucket/object`` of blob ``key`` (for messages)."""
        return f"s3://{self.bucket}/{self.object_key(key)}"

    def check(self) -> None:
        """Raise :class:`OSError` naming the bucket unless it exists and answers."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise OSError(f"blob bucket {self.bucket} cannot be used (check WORKBENCH_BLOB_URL "
                          f"and WORKBENCH_S3_*): {_reason(exc)}") from None

    # -- writing ---------------------------------------------------------------------------
    def sync(self, keys: list[str]) -> None:
        """Upload the staged blobs among ``keys``; return once every one is in the bucket.

        Blobs whose local copy is clean are there already. Raises :class:`OSError` if any
        upload failed (after all have finished), or :class:`FileNotFoundError` for a key
        that is neither staged nor in the bucket.
        """
        uploads = []
        for key in keys:
            local = self._file(key)
            try:
                mode = os.stat(local).st_mode
            except FileNotFoundError:
                self.size(key)  # raises FileNotFoundError unless the object exists
                continue
            if mode & stat.S_IWUSR:
                uploads.append((key, local, self._transfers.upload(
                    str(local), self.bucket, self.object_key(key))))
        failures = []
        for key, local, future in uploads:
            try:
                future.result()
            except Exception as exc:  # botocore and s3transfer raise many types
                failures.append(f"{self.url(key)}: {_reason(exc)}")
                continue
            os.chmod(local, CLEAN_MODE)
            self._cached(os.stat(local).st_size)
        if failures:
            raise OSError(f"{len(failures)} of {len(uploads)} blobs could not be uploaded; "
                          f"first: {failures[0]}")

    def delete(self, key: str) -> None:
        """Delete the blob: its local copy and, unless it was never uploaded, its object."""
        local = self._file(key)
        try:
            staged = bool(os.stat(local).st_mode & stat.S_IWUSR)
        except FileNotFoundError:
            staged = self._partial(local).exists()
        super().delete(key)
        if staged:
            return
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise OSError(f"cannot delete {self.url(key)}: {_reason(exc)}") from None

    # -- reading ---------------------------------------------------------------------------
    def _get(self, key: str, byte_range: str | None = None) -> Any:
        args = {"Bucket": self.bucket, "Key": self.object_key(key)}
        if byte_range:
            args["Range"] = byte_range
        try:
            return self.client.get_object(**args)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise FileNotFoundError(errno.ENOENT, f"no blob {self.url(key)}") from None
            if _code(exc) == "InvalidRange":
                raise _PastEnd from None
            raise OSError(f"cannot read {self.url(key)}: {_reason(exc)}") from None
        except BotoCoreError as exc:
            raise OSError(f"cannot read {self.url(key)}: {_reason(exc)}") from None

    def get_range(self, key: str, offset: int, length: int) -> tuple[bytes, int | None]:
        """Up to ``length`` bytes of the object from ``offset`` with one ranged GET, and
        the object's size when the answer tells it."""
        if length <= 0:
            return b"", None
        try:
            response = self._get(key, f"bytes={offset}-{offset + length - 1}")
        except _PastEnd:
            return b"", None
        total = str(response.get("ContentRange", "")).rpartition("/")[2]
        try:
            data: bytes = response["Body"].read()
        except (BotoCoreError, OSError) as exc:
            raise OSError(f"cannot read {self.url(key)}: {_reason(exc)}") from None
        return data, int(total) if total.isdigit() else None

    def local_path(self, key: str) -> Path | None:
        """The cached copy of the blob, or None (nothing is fetched)."""
        local = self._file(key)
        return local if os.path.exists(local) else None

    def path(self, key: str) -> Path:
        """A local file holding the blob: the cached copy, downloaded first if needed."""
        local = self._file(key)
        try:
            info = os.stat(local)
        except FileNotFoundError:
            return self._download(key)
        if time.time() - max(info.st_atime, info.st_mtime) > self.keep_recent_s:
            os.utime(local)  # used now: last in line for eviction
        return local

    def _download(self, key: str) -> Path:
        """Stream the object into the cache (a temporary name, then renamed)."""
        local = self._file(key)
        self._ensure_dir(local.parent)
        response = self._get(key)
        tmp = local.with_name(f"{local.name}.get-{uuid.uuid4().hex}")
        size = 0
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, CLEAN_MODE)
            with os.fdopen(fd, "wb") as fh:
                for chunk in response["Body"].iter_chunks(1 << 20):
                    fh.write(chunk)
                    size += len(chunk)
            os.replace(tmp, local)
        except (BotoCoreError, ClientError) as exc:
            self.discard(tmp)
            raise OSError(f"cannot download {self.url(key)}: {_reason(exc)}") from None
        except BaseException:
            self.discard(tmp)
            raise
        self._cached(size)
        return local

    def read(self, key: str) -> bytes:
        """The whole blob (downloaded into the cache first if it is not there)."""
        try:
            return self._file(key).read_bytes()
        except FileNotFoundError:
            return self.path(key).read_bytes()

    def size(self, key: str) -> int:
        """Bytes in the blob (from the cached copy, else a HEAD request)."""
        try:
            return os.stat(self._file(key)).st_size
        except FileNotFoundError:
            pass
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise FileNotFoundError(errno.ENOENT, f"no blob {self.url(key)}") from None
            raise OSError(f"cannot inspect {self.url(key)}: {_reason(exc)}") from None
        except BotoCoreError as exc:
            raise OSError(f"cannot inspect {self.url(key)}: {_reason(exc)}") from None
        return int(head["ContentLength"])

    def open_reader(self, key: str) -> BlobReader:
        """The cached copy open for reading, else ranged GETs on the object."""
        try:
            return FileReader(self._file(key))
        except FileNotFoundError:
            return RangeReader(self, key)

    # -- listing (start-up sweep) ----------------------------------------------------------
    def _children(self, parent: str) -> list[str]:
        prefix = f"{self.base}{parent}/" if parent else self.base
        names = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, Delimiter="/")
            for page in pages:
                names += [p["Prefix"][len(prefix):].rstrip("/")
                          for p in page.get("CommonPrefixes", [])]
        except (BotoCoreError, ClientError) as exc:
            raise OSError(f"cannot list s3://{self.bucket}/{prefix}: {_reason(exc)}") from None
        return names

    def hour_folders(self, since: str = "") -> list[str]:
        """Hour folders (``YYYY/MM/DD/HH``) in the bucket or the local folder, oldest first.

        Listed level by level with ``Delimiter='/'``, skipping what lies before ``since``.
        """
        level = [""]
        for digits in HOUR_FOLDER_DIGITS:
            below = []
            for parent in level:
                for name in self._children(parent):
                    key = f"{parent}/{name}" if parent else name
                    if len(name) == digits and name.isdigit() and since_allows(key, since):
                        below.append(key)
            level = below
        return sorted(set(level) | set(super().hour_folders(since)))

    def keys_in(self, folder: str) -> list[str]:
        """Keys of the blobs in the bucket in one hour folder."""
        prefix = f"{self.base}{folder}/"
        keys = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"][len(prefix):]
                    if "/" not in name and name.endswith(_BLOB_SUFFIX):
                        keys.append(f"{folder}/{name}")
        except (BotoCoreError, ClientError) as exc:
            raise OSError(f"cannot list s3://{self.bucket}/{prefix}: {_reason(exc)}") from None
        return keys

    def remove_partial(self, folder: str) -> int:
        """Delete the local files of one hour folder that a killed process left: staged
        blobs never uploaded (``.part`` or writable) and interrupted downloads."""
        gone = super().remove_partial(folder)
        for path in (self.root / folder).glob("*"):
            try:
                mode = path.stat().st_mode
            except FileNotFoundError:
                continue
            if ".get-" in path.name or (path.name.endswith(_BLOB_SUFFIX)
                                        and mode & stat.S_IWUSR):
                self.discard(path)
                gone += 1
        return gone

    # -- cache -----------------------------------------------------------------------------
    def _cached(self, size: int) -> None:
        """Count bytes added to the cache; past an eighth of it, evict on a thread."""
        with self._cache_lock:
            self._added += size
            if self._evicting or self._added < max(self.cache_bytes // 8, 1 << 20):
                return
            self._evicting = True
            self._added = 0
        self._evictor.submit(self.evict)

    def evict(self) -> int:
        """Remove clean cached files, least recently used first, until the clean ones
        take at most 80 % of ``cache_bytes`` (none if they take no more than all of it);
        files used within ``keep_recent_s`` stay. Returns the bytes removed."""
        try:
            clean = []
            for folder, _, names in os.walk(self.root):
                for name in names:
                    path = os.path.join(folder, name)
                    try:
                        info = os.stat(path)
                    except FileNotFoundError:
                        continue
                    if ".get-" not in name and not info.st_mode & stat.S_IWUSR:
                        clean.append((max(info.st_atime, info.st_mtime), info.st_size, path))
            total = sum(size for _, size, _ in clean)
            if total <= self.cache_bytes:
                return 0
            removed = 0
            recent = time.time() - self.keep_recent_s
            for used, size, path in sorted(clean):
                if total - removed <= self.cache_bytes * 0.8 or used > recent:
                    break
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    continue
                removed += size
            return removed
        finally:
            with self._cache_lock:
                self._evicting = False

    def close(self) -> None:
        """Finish uploads and evictions in progress and stop their threads."""
        self._transfers.shutdown()
        self._evictor.shutdown(wait=True)
        super().close()

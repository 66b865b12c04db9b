"""The blob stores a configuration asks for: local folders (the default) or S3."""

from __future__ import annotations

from typing import Literal

from server.config import Settings
from server.storage.local import LocalBlobStore

StoreKind = Literal["blobs", "media"]
"""``blobs``: DICOM instances; ``media``: uploaded non-DICOM files."""


def open_store(settings: Settings, kind: StoreKind) -> LocalBlobStore:
    """The blob store of ``kind``: ``<data_dir>/<kind>``, or the bucket of
    ``WORKBENCH_BLOB_URL`` (objects under ``<prefix><kind>/``) cached in
    ``<data_dir>/s3-cache/<kind>``.

    Raises
    ------
    ValueError
        ``WORKBENCH_BLOB_URL`` is not ``s3://bucket[/prefix]``.
    OSError
        The bucket does not exist or cannot be reached with the configured credentials.
    ImportError
        boto3 is not installed; the message says which extra brings it.
    """
    if not settings.blob_url:
        return LocalBlobStore(settings.data_dir / kind)
    try:
        from server.storage.s3 import S3BlobStore, S3Location, make_client
    except ImportError as exc:
        if exc.name not in ("boto3", "botocore", "s3transfer"):
            raise
        raise ImportError(f"WORKBENCH_BLOB_URL={settings.blob_url} needs boto3: "
                          'pip install "workbench[server]"') from exc
    location = S3Location.parse(settings.blob_url)
    secret = settings.s3_secret_access_key
    client = make_client(
        endpoint_url=settings.s3_endpoint_url, region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=secret.get_secret_value() if secret is not None else None,
        addressing_style=settings.s3_addressing_style)
    store = S3BlobStore(client, location, kind, settings.data_dir / "s3-cache" / kind,
                        cache_bytes=settings.s3_cache_bytes, part_bytes=settings.s3_part_bytes)
    try:
        store.check()
    except BaseException:
        store.close()
        raise
    return store

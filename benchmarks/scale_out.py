"""Ingest, query and retrieval figures of the scale-out configuration next to the default.

Two archives run one after the other with the same data and the same client code:

- ``SQLite + folder``: the embedded defaults (`workbench serve` with nothing configured);
- ``PostgreSQL + S3``: the index on PostgreSQL (``--postgres URL`` or the
  ``WORKBENCH_TEST_POSTGRES`` of ``scripts/with-postgres.sh``; without one the second
  archive uses SQLite and the table says ``SQLite + S3``) and the blobs in a bucket of
  ``--s3-endpoint`` (default: moto's S3 server started here on loopback; moto is an
  in-memory emulator written in Python, so its figures bound what the S3 code costs
  rather than what a real object store gives: point ``--s3-endpoint`` at MinIO for that).

Figures: STOW-RS of 512 x 512 CT slices and of small single-instance studies; QIDO-RS by
Patient ID and a 100-study page; WADO-RS frames with the blob in the local cache and, for
S3, fetched from the bucket by ranged GETs (cache emptied); a whole series retrieved.
It is not a test; it prints a table (and ``--json PATH`` writes the figures).

    scripts/with-postgres.sh .venv/bin/python benchmarks/scale_out.py
    .venv/bin/python benchmarks/scale_out.py --slices 20 --small-studies 100
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
from _peers import _process, _wait_ready, free_port
from archive_vs_orthanc import Instance, serialise, small_studies

from workbench.demo import benchmark_ct_studies

REPO = Path(__file__).resolve().parent.parent
BOUNDARY = "scale-out-bench"
FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"'
KEY_ID, SECRET = "bench", "bench-secret"


@contextmanager
def moto_endpoint(folder: Path) -> Iterator[str]:
    """moto's S3 server in a process of its own on a free loopback port."""
    port = free_port()
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with _process(argv, env=None, log=folder / "moto.log", cwd=folder) as proc:
        _wait_ready(proc, f"http://127.0.0.1:{port}/", {}, folder / "moto.log", "moto")
        yield f"http://127.0.0.1:{port}"


def fresh_postgres(base: str) -> str:
    """A new, empty database on the PostgreSQL server ``base`` (URL without database)."""
    import psycopg

    name = f"wb_bench_{uuid.uuid4().hex[:10]}"
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


@contextmanager
def archive(folder: Path, env: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    """`workbench serve` with ``env`` added; yields (DICOMweb root, headers)."""
    folder.mkdir(parents=True)
    token = secrets.token_urlsafe(24)
    port = free_port()
    environ = dict(os.environ, WORKBENCH_DATA_DIR=str(folder / "data"),
                   WORKBENCH_ADMIN_TOKEN=token, **env)
    argv = [sys.executable, "-m", "workbench.cli", "serve", "--host", "127.0.0.1",
            "--port", str(port)]
    headers = {"Authorization": f"Bearer {token}"}
    with _process(argv, env=environ, log=folder / "server.log", cwd=REPO) as proc:
        _wait_ready(proc, f"http://127.0.0.1:{port}/healthz", headers, folder / "server.log",
                    "workbench")
        yield f"http://127.0.0.1:{port}/dicom-web", headers


def stow_body(batch: list[Instance]) -> bytes:
    """A multipart/related body of the batch's Part 10 bytes."""
    return b"".join(b"--" + BOUNDARY.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n"
                    + i.data + b"\r\n" for i in batch) + f"--{BOUNDARY}--\r\n".encode()


def stow(http: httpx.Client, instances: list[Instance], per_request: int, clients: int
         ) -> float:
    """Store ``instances``; the seconds it took."""
    batches = [instances[i:i + per_request] for i in range(0, len(instances), per_request)]
    content_type = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'

    def send(batch: list[Instance]) -> None:
        r = http.post("/studies", content=stow_body(batch),
                      headers={"Content-Type": content_type})
        if r.status_code != 200:
            raise RuntimeError(f"STOW answered {r.status_code}: {r.text[:300]}")

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, batches))
    return time.perf_counter() - start


def median_ms(http: httpx.Client, paths: list[str], headers: dict[str, str] | None = None
              ) -> float:
    """Median latency of GETs of ``paths`` (each must answer 200), in milliseconds."""
    times = []
    for path in paths:
        start = time.perf_counter()
        r = http.get(path, headers=headers)
        times.append(time.perf_counter() - start)
        if r.status_code != 200:
            raise RuntimeError(f"GET {path} answered {r.status_code}: {r.text[:300]}")
    return statistics.median(times) * 1000


def measure(root: str, headers: dict[str, str], data_dir: Path, large: list[Instance],
            small: list[Instance], queries: int) -> dict[str, float]:
    """Every figure of one archive."""
    out: dict[str, float] = {}
    mb = sum(len(i.data) for i in large) / 1e6
    with httpx.Client(base_url=root, headers=headers, timeout=300) as http:
        seconds = stow(http, large, 10, 1)
        out["stow_large_mb_s"] = mb / seconds
        out["stow_large_inst_s"] = len(large) / seconds
        out["stow_small_inst_s"] = len(small) / stow(http, small, 10, 2)
        ids = [i.patient_id for i in small]
        step = max(1, len(ids) // queries)
        out["qido_patient_ms"] = median_ms(http, [f"/studies?PatientID={p}"
                                                  for p in ids[::step][:queries]])
        out["qido_page_ms"] = median_ms(http, ["/studies?limit=100"] * queries)
        frames = [f"/studies/{i.study}/series/{i.series}/instances/{i.sop}/frames/1"
                  for i in large]
        out["frame_cached_ms"] = median_ms(http, frames, {"Accept": FRAME_ACCEPT})
        out["series_cached_mb_s"] = series_mb_s(http, large[0])
        cache = data_dir / "s3-cache" / "blobs"
        if cache.exists():  # S3: empty the cache; reads go to the bucket by range
            for path in cache.rglob("*.dcm"):
                path.unlink()
            out["frame_bucket_ms"] = median_ms(http, frames, {"Accept": FRAME_ACCEPT})
            out["series_bucket_mb_s"] = series_mb_s(http, large[0])
    return out


def series_mb_s(http: httpx.Client, first: Instance) -> float:
    """MB/s of retrieving the whole series of ``first`` (stored transfer syntax)."""
    start = time.perf_counter()
    r = http.get(f"/studies/{first.study}/series/{first.series}", headers={
        "Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'})
    if r.status_code != 200:
        raise RuntimeError(f"series retrieval answered {r.status_code}")
    return len(r.content) / 1e6 / (time.perf_counter() - start)


ROWS = [
    ("stow_large_mb_s", "STOW 512x512 CT, 10/request, 1 client (MB/s)", True),
    ("stow_large_inst_s", "  same, instances/s", True),
    ("stow_small_inst_s", "STOW 64x64 studies, 10/request, 2 clients (instances/s)", True),
    ("qido_patient_ms", "QIDO studies by PatientID, median (ms)", False),
    ("qido_page_ms", "QIDO 100 studies, median (ms)", False),
    ("frame_cached_ms", "WADO frame, blob local/cached, median (ms)", False),
    ("frame_bucket_ms", "WADO frame, ranged GETs on the bucket, median (ms)", False),
    ("series_cached_mb_s", "WADO whole series, blobs local/cached (MB/s)", True),
    ("series_bucket_mb_s", "WADO whole series, ranged GETs on the bucket (MB/s)", True),
]


def table(names: list[str], results: list[dict[str, float]]) -> str:
    """The figures side by side; ratio above 1 means the second configuration is better."""
    lines = [f"{'figure':58} {names[0]:>16} {names[1]:>16} {'ratio':>6}"]
    for key, label, higher in ROWS:
        a, b = (r.get(key) for r in results)
        cells = [f"{v:16.2f}" if v is not None else f"{'-':>16}" for v in (a, b)]
        ratio = "" if a is None or b is None else f"{(b / a if higher else a / b):6.2f}"
        lines.append(f"{label:58} {cells[0]} {cells[1]} {ratio:>6}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run both archives and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=40, help="512x512 CT slices to store")
    parser.add_argument("--small-studies", type=int, default=300)
    parser.add_argument("--queries", type=int, default=50, help="timed QIDO requests each")
    parser.add_argument("--postgres", default=os.environ.get("WORKBENCH_TEST_POSTGRES"),
                        help="PostgreSQL server URL without database (default: "
                        "$WORKBENCH_TEST_POSTGRES; none: the S3 archive uses SQLite)")
    parser.add_argument("--s3-endpoint", help="an S3 endpoint (default: moto on loopback)")
    parser.add_argument("--bucket", help="existing bucket at --s3-endpoint (default: a new one)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    seed = 1300
    large = [serialise(ds) for ds in benchmark_ct_studies(n_studies=1, n_slices=args.slices,
                                                           seed=seed)]
    small = [serialise(ds) for ds in small_studies(args.small_studies, seed)]
    with tempfile.TemporaryDirectory(prefix="wb-scale-out-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        endpoint = args.s3_endpoint or stack.enter_context(moto_endpoint(work))
        bucket = args.bucket or f"wb-bench-{hashlib.sha1(tmp.encode()).hexdigest()[:10]}"
        if not args.bucket:
            from server.storage.s3 import make_client

            make_client(endpoint_url=endpoint, region="us-east-1", access_key_id=KEY_ID,
                        secret_access_key=SECRET, addressing_style="path"
                        ).create_bucket(Bucket=bucket)
        s3_env = {"WORKBENCH_BLOB_URL": f"s3://{bucket}/bench",
                  "WORKBENCH_S3_ENDPOINT_URL": endpoint, "WORKBENCH_S3_REGION": "us-east-1",
                  "WORKBENCH_S3_ADDRESSING_STYLE": "path"}
        if not args.s3_endpoint:
            s3_env.update(WORKBENCH_S3_ACCESS_KEY_ID=KEY_ID,
                          WORKBENCH_S3_SECRET_ACCESS_KEY=SECRET)
        index = "SQLite"
        if args.postgres:
            s3_env["WORKBENCH_DATABASE_URL"] = fresh_postgres(args.postgres)
            index = "PostgreSQL"
        names = ["SQLite + folder", f"{index} + S3"]
        results = []
        for name, env in zip(names, [{}, s3_env], strict=True):
            folder = work / name.replace(" ", "").replace("+", "-")
            print(f"measuring {name} ...", file=sys.stderr, flush=True)
            with archive(folder, env) as (root, headers):
                results.append(measure(root, headers, folder / "data", large, small,
                                       args.queries))
    print(f"{args.slices} slices of 512x512 CT ({sum(len(i.data) for i in large) / 1e6:.1f} "
          f"MB), {len(small)} small studies; S3 endpoint: "
          f"{'moto (loopback)' if not args.s3_endpoint else args.s3_endpoint}")
    print(table(names, results))
    if args.json:
        args.json.write_text(json.dumps(dict(zip(names, results, strict=True)), indent=2))
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except subprocess.SubprocessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

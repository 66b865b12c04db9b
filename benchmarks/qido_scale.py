"""QIDO-RS latency with 100,000 studies in the index, on SQLite and on PostgreSQL.

Storing 100,000 studies through STOW-RS would take hours on a small machine, so the
index rows are **written directly by a bulk loader** (:func:`bulk_load`), which uses the
project's own tables (``server.db.models``) and the ingest path's own row builder
(``server.services.ingest._rows``, the function every STOW-RS and C-STORE instance goes
through) on DICOM JSON made from a real header by the project's own converter: one
synthetic 64 x 64 CT instance is parsed (``workbench.dicom.read.parse_instance``) and
converted (``workbench.dicom.json_model.dataset_to_json``) once; every loaded instance is
that JSON with its own patient, study, series and instance attributes (names and birth
dates from ``workbench.demo.synthetic_patient``, dates spread over ten years, a mix of
modalities), turned into rows by ``_rows`` and inserted in big batches with
``executemany``, each batch one transaction. Loaded instances have no blob (the blob key
names no file): QIDO and ``/metadata`` read only the index, WADO of pixels would answer an
error for them. On top, a few hundred real instances go through STOW-RS into the running
server, so the WADO-RS metadata path measured is the real one.

Then QIDO-RS p50/p95 over HTTP, through the full server (authentication, visibility
clause, audit record per request), for: studies by PatientID; by a PatientName wildcard
(``ABC*``, 100 per page); by a date range plus ModalitiesInStudy (100 per page); a
1000-study page at an offset; the series and the instances of one study; and the
metadata of a stored study. It is not a test: it prints a table (``--json`` writes it).

    scripts/with-postgres.sh .venv/bin/python benchmarks/qido_scale.py
    .venv/bin/python benchmarks/qido_scale.py --quick          # 10,000 studies, SQLite only
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from archive_vs_orthanc import serialise, small_studies
from scale_out import archive, fresh_postgres, stow
from sqlalchemy import Engine, Table, insert, text

from server.db.engine import make_engine, upgrade
from server.db.models import instances, patients, series, studies
from server.services.ingest import _rows
from server.services.placement import LOCAL_ACCOUNT
from workbench.demo import synthetic_patient
from workbench.dicom.json_model import BULKDATA_PLACEHOLDER, dataset_to_json, json_bytes
from workbench.dicom.read import ParsedInstance, parse_instance

MODALITIES = ("CT", "MR", "CR", "US", "NM", "PT", "DX", "MG")
SECOND_SERIES = "SR"
UID_ROOT = "1.2.826.0.1.3680043.8.498.77"
EPOCH = 20160101


@dataclasses.dataclass(frozen=True)
class Loaded:
    """What the bulk loader wrote: counts, seconds, and a sample to query for."""

    studies: int
    series: int
    instances: int
    seconds: float
    patient_ids: list[str]
    study_uids: list[str]


def _template() -> tuple[ParsedInstance, dict[str, Any]]:
    """One real small CT instance, parsed and converted to DICOM JSON as ingest does."""
    instance = serialise(next(small_studies(1, 1313)))
    parsed = parse_instance(instance.data)
    meta = dataset_to_json(parsed.dataset, bulkdata_prefix=BULKDATA_PLACEHOLDER,
                           pixel_data=parsed.has_pixel_data)
    return parsed, meta


def _date(rng: random.Random) -> str:
    """A date in 2016-2025 (days 1-28, so every value is a valid DA)."""
    return f"{2016 + rng.randrange(10)}{1 + rng.randrange(12):02d}{1 + rng.randrange(28):02d}"


def _set(meta: dict[str, Any], tag: str, vr: str, value: Any) -> None:
    meta[tag] = {"vr": vr, "Value": [{"Alphabetic": value} if vr == "PN" else value]}


def _instance_rows(template: tuple[ParsedInstance, dict[str, Any]], study_uid: str,
                   series_uid: str, sop_uid: str, attrs: dict[str, Any]
                   ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Study, series and instance rows of one synthetic instance, built by ``_rows``."""
    parsed, base = template
    meta = dict(base)
    for tag, vr, key in (("00100010", "PN", "name"), ("00100020", "LO", "patient_id"),
                         ("00100030", "DA", "birth_date"), ("00100040", "CS", "sex"),
                         ("00080020", "DA", "date"), ("00080050", "SH", "accession"),
                         ("00200010", "SH", "accession"), ("00080060", "CS", "modality"),
                         ("00200011", "IS", "series_number"), ("0020000D", "UI", "study"),
                         ("0020000E", "UI", "series"), ("00080018", "UI", "sop")):
        _set(meta, tag, vr, attrs[key] if key not in ("study", "series", "sop")
             else {"study": study_uid, "series": series_uid, "sop": sop_uid}[key])
    meta["7FE00010"] = {"vr": "OW", "BulkDataURI": (
        f"{BULKDATA_PLACEHOLDER}/studies/{study_uid}/series/{series_uid}/instances/"
        f"{sop_uid}/bulkdata/7FE00010")}
    metadata = json_bytes(meta)
    one = dataclasses.replace(parsed, sop_uid=sop_uid, study_uid=study_uid,
                              series_uid=series_uid)
    return _rows(one, meta, hashlib.sha256(metadata).hexdigest(), metadata)


def bulk_load(engine: Engine, n_studies: int, *, series_per_study: int = 2,
              batch: int = 5000, seed: int = 13, analyze: bool = True,
              progress: bool = True) -> Loaded:
    """Write ``n_studies`` studies straight into the index of ``engine`` (migrated here).

    Each study belongs to the local account (what the admin token sees), has
    ``series_per_study`` series (the first of a modality drawn from :data:`MODALITIES`,
    the others ``SR``) of one instance each; two studies share a patient folder. Keys are
    given explicitly and, on PostgreSQL, the sequences are moved past them afterwards (as
    ``workbench db copy`` does). Rows are built by the ingest path's ``_rows``.

    Parameters
    ----------
    engine
        The index; must hold no studies yet.
    n_studies
        How many studies to write.
    series_per_study
        Series (of one instance each) per study, at least 1.
    batch
        Studies per ``executemany`` transaction.
    seed
        Seed of the names, dates and modalities.
    analyze
        Give the planner statistics after the load (``ANALYZE``).
    progress
        Print a line per batch on stderr.

    Returns
    -------
    Loaded
    """
    if series_per_study < 1:
        raise ValueError(f"series_per_study must be at least 1, got {series_per_study}")
    upgrade(engine)
    template = _template()
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(tzinfo=None)
    start = time.perf_counter()
    sample_pids: list[str] = []
    sample_uids: list[str] = []
    n_series = 0
    for first in range(0, n_studies, batch):
        rows: dict[str, list[dict[str, Any]]] = {"p": [], "st": [], "se": [], "i": []}
        for s in range(first, min(first + batch, n_studies)):
            pk = s + 1
            patient = synthetic_patient(seed, s // 2, prefix="BULK")
            modality = MODALITIES[rng.randrange(len(MODALITIES))]
            attrs: dict[str, Any] = {
                "name": patient.name, "patient_id": patient.patient_id,
                "birth_date": patient.birth_date, "sex": patient.sex, "date": _date(rng),
                "accession": f"B{s:09d}", "modality": modality, "series_number": 1}
            study_uid = f"{UID_ROOT}.1.{s}"
            for k in range(series_per_study):
                attrs.update(modality=modality if k == 0 else SECOND_SERIES,
                             series_number=k + 1)
                series_pk = s * series_per_study + k + 1
                study_row, series_row, inst_row = _instance_rows(
                    template, study_uid, f"{UID_ROOT}.2.{s}.{k}", f"{UID_ROOT}.3.{s}.{k}", attrs)
                rows["se"].append(dict(series_row, pk=series_pk, study_pk=pk, num_instances=1,
                                       series_uid=f"{UID_ROOT}.2.{s}.{k}", created_at=now))
                rows["i"].append(dict(inst_row, pk=series_pk, series_pk=series_pk,
                                      study_pk=pk, blob=f"bulk/{series_pk}.dcm",
                                      created_at=now))
            n_series += series_per_study
            if s % 2 == 0:
                rows["p"].append({"pk": s // 2 + 1, "account_pk": LOCAL_ACCOUNT,
                                  "patient_id": patient.patient_id, "issuer": "",
                                  "name": patient.name, "birth_date": patient.birth_date,
                                  "sex": patient.sex, "created_at": now})
            rows["st"].append(dict(study_row, pk=pk, study_uid=study_uid,
                                   account_pk=LOCAL_ACCOUNT, patient_pk=s // 2 + 1,
                                   num_series=series_per_study,
                                   num_instances=series_per_study,
                                   size_bytes=series_per_study * template[0].size,
                                   created_at=now, updated_at=now))
            if rng.random() < 200 / n_studies:
                sample_pids.append(patient.patient_id)
                sample_uids.append(study_uid)
        with engine.begin() as conn:
            for table, key in ((patients, "p"), (studies, "st"), (series, "se"),
                               (instances, "i")):
                conn.execute(insert(table), rows[key])
        if progress:
            print(f"  loaded {min(first + batch, n_studies):,} studies "
                  f"({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    _after_load(engine, (patients, studies, series, instances), analyze)
    return Loaded(n_studies, n_series, n_series, time.perf_counter() - start, sample_pids,
                  sample_uids)


def _after_load(engine: Engine, tables: tuple[Table, ...], analyze: bool) -> None:
    """PostgreSQL: sequences past the explicit keys. ``analyze``: ``ANALYZE`` the tables,
    which PostgreSQL's autovacuum does by itself within a minute of a load this size and
    SQLite only when told (migration 0010 does it once for an archive it upgrades; a
    fresh SQLite archive has no statistics, see docs/scale-out.md)."""
    with engine.begin() as conn:
        for table in tables:
            if engine.dialect.name == "postgresql":
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'pk'), "
                    f"GREATEST((SELECT MAX(pk) FROM {table.name}), 1))"))
            if analyze:
                conn.execute(text(f"ANALYZE {table.name}"))


def percentiles(http: httpx.Client, paths: list[str]) -> tuple[float, float, int]:
    """(p50, p95) latency of GETs of ``paths`` in ms, and the results of the last one.

    Every request must answer 200 (or 204 for an empty match)."""
    times = []
    count = 0
    http.get(paths[0])  # warm the connection and the server's statement cache
    for path in paths:
        start = time.perf_counter()
        r = http.get(path)
        times.append((time.perf_counter() - start) * 1000)
        if r.status_code not in (200, 204):
            raise RuntimeError(f"GET {path} answered {r.status_code}: {r.text[:300]}")
        count = len(r.json()) if r.status_code == 200 else 0
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))], count


def queries(loaded: Loaded, stored: list[Any], repeat: int, seed: int
            ) -> dict[str, list[str]]:
    """The timed requests, ``repeat`` of each kind, with parameters spread over the data."""
    rng = random.Random(seed)
    pids = [rng.choice(loaded.patient_ids) for _ in range(repeat)]
    uids = [rng.choice(loaded.study_uids) for _ in range(repeat)]
    names = [rng.choice(("ADA", "BAK", "GAR", "NGU", "SIL", "WEB")) for _ in range(repeat)]
    years = [2016 + rng.randrange(10) for _ in range(repeat)]
    mods = [rng.choice(MODALITIES) for _ in range(repeat)]
    last_page = max(0, loaded.studies // 1000 - 1)
    pages = [rng.randrange(last_page + 1) * 1000 for _ in range(repeat)]
    mine = [stored[i % len(stored)] for i in range(repeat)] if stored else []
    return {
        "patient_id": [f"/studies?PatientID={p}" for p in pids],
        "name_wildcard": [f"/studies?PatientName={n}*&limit=100" for n in names],
        "date_modality": [f"/studies?StudyDate={y}0301-{y}0531&ModalitiesInStudy={m}"
                          f"&limit=100" for y, m in zip(years, mods, strict=True)],
        "page_offset": [f"/studies?limit=1000&offset={o}" for o in pages],
        "series_of_study": [f"/studies/{u}/series" for u in uids],
        "instances_of_study": [f"/studies/{u}/instances" for u in uids],
        "metadata_stored": [f"/studies/{i.study}/series/{i.series}/metadata" for i in mine],
    }


ROWS = [
    ("patient_id", "studies by PatientID"),
    ("name_wildcard", "studies by PatientName=ABC*, 100/page"),
    ("date_modality", "studies by 3-month StudyDate + ModalitiesInStudy, 100/page"),
    ("page_offset", "1000-study page at a random offset"),
    ("series_of_study", "series of one study"),
    ("instances_of_study", "instances of one study"),
    ("metadata_stored", "WADO-RS series metadata (STOW-RS stored)"),
]


def explain(engine: Engine, paths: dict[str, list[str]]) -> str:
    """The database's plan of the statement the server builds for the first request of
    each study-level kind (``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN`` on PostgreSQL),
    with the visibility clause of a local administrator as the admin token has it."""
    from urllib.parse import parse_qsl, urlsplit

    from server.auth.permissions import Principal
    from server.db.qido import Scope, build_select
    from server.db.visibility import visible_studies
    from workbench.dicomweb.query import QueryLevel, parse_qido

    admin = Principal(user_pk=1, account_pk=LOCAL_ACCOUNT, account_state="active",
                      label="admin", roles=frozenset({"administrator", "reading_physician"}))
    sqlite = engine.dialect.name == "sqlite"
    out = []
    with engine.connect() as conn:
        for key in ("patient_id", "name_wildcard", "date_modality", "page_offset"):
            query = parse_qido(parse_qsl(urlsplit(paths[key][0]).query), QueryLevel.STUDY,
                               max_limit=10_000)
            stmt = build_select(query, Scope(visible=visible_studies(admin)))
            sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
            plan = conn.execute(text(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + sql))
            lines = [" ".join(str(c) for c in row[-1:]) for row in plan]
            out.append(f"-- {key}: {paths[key][0]}\n" + "\n".join(lines))
    return "\n".join(out)


def measure(root: str, headers: dict[str, str], loaded: Loaded, n_stow: int, repeat: int
            ) -> dict[str, float]:
    """STOW the real instances, then time every query kind; figures by name."""
    stored = [serialise(ds) for ds in small_studies(n_stow, 1400)]
    out: dict[str, float] = {"load_s": loaded.seconds}
    with httpx.Client(base_url=root, headers=headers, timeout=300) as http:
        out["stow_s"] = stow(http, stored, 10, 2)
        for key, paths in queries(loaded, stored, repeat, 7).items():
            p50, p95, count = percentiles(http, paths)
            out[f"{key}_p50"], out[f"{key}_p95"], out[f"{key}_n"] = p50, p95, count
    return out


def table(names: list[str], results: list[dict[str, float]]) -> str:
    """p50 / p95 per query kind and configuration, in milliseconds, and how many results
    the last request of each kind returned (on the first configuration)."""
    head = "".join(f" {n + ' p50':>16} {'p95':>8}" for n in names)
    lines = [f"{'QIDO-RS (ms)':60}{head} {'results':>8}"]
    for key, label in ROWS:
        cells = "".join(f" {r[f'{key}_p50']:16.1f} {r[f'{key}_p95']:8.1f}" for r in results)
        lines.append(f"{label:60}{cells} {results[0][f'{key}_n']:8.0f}")
    lines.append(f"{'bulk load (s)':60}" + "".join(f" {r['load_s']:16.0f} {'':8}"
                                                   for r in results))
    return "\n".join(lines)


def run_one(work: Path, name: str, url: str, args: argparse.Namespace,
            log: Callable[[str], None]) -> dict[str, float]:
    """Load, start `workbench serve` on the index ``url``, measure; figures by name."""
    log(f"{name}: loading {args.studies:,} studies ...")
    engine = make_engine(url)
    try:
        loaded = bulk_load(engine, args.studies, series_per_study=args.series_per_study,
                           batch=args.batch, analyze=not args.no_analyze)
    finally:
        engine.dispose()
    log(f"{name}: {loaded.seconds:.0f} s; starting the server, measuring ...")
    if args.explain:
        engine = make_engine(url)
        try:
            log(explain(engine, queries(loaded, [], 1, 7)))
        finally:
            engine.dispose()
    folder = work / name.replace(" ", "")
    with archive(folder, {"WORKBENCH_DATABASE_URL": url}) as (root, headers):
        return measure(root, headers, loaded, args.stow, args.repeat)


def engines(work: Path, postgres: str | None) -> Iterator[tuple[str, str]]:
    """(name, index URL) of each configuration to measure."""
    (work / "sqlite").mkdir()
    yield "SQLite", f"sqlite:///{work / 'sqlite' / 'index.sqlite'}"
    if postgres:
        yield "PostgreSQL", fresh_postgres(postgres)


def main(argv: list[str] | None = None) -> int:
    """Load, measure and print the table for SQLite and (if given) PostgreSQL."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=100_000, help="studies bulk-loaded")
    parser.add_argument("--quick", action="store_true", help="10,000 studies, 20 repeats")
    parser.add_argument("--series-per-study", type=int, default=2)
    parser.add_argument("--batch", type=int, default=5000, help="studies per transaction")
    parser.add_argument("--stow", type=int, default=300, help="real instances via STOW-RS")
    parser.add_argument("--repeat", type=int, default=50, help="timed requests per kind")
    parser.add_argument("--postgres", default=os.environ.get("WORKBENCH_TEST_POSTGRES"),
                        help="PostgreSQL server URL without database (default: "
                        "$WORKBENCH_TEST_POSTGRES; none: SQLite only)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--no-analyze", action="store_true",
                        help="no ANALYZE after the load (SQLite as a fresh archive has it)")
    parser.add_argument("--explain", action="store_true",
                        help="print the query plans of the study-level searches")
    args = parser.parse_args(argv)
    if args.quick:
        args.studies, args.repeat = 10_000, 20

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    names, results = [], []
    with tempfile.TemporaryDirectory(prefix="wb-qido-scale-") as tmp:
        for name, url in engines(Path(tmp), args.postgres):
            names.append(name)
            results.append(run_one(Path(tmp), name, url, args, log))
    print(f"{args.studies:,} bulk-loaded studies ({args.series_per_study} series of one "
          f"instance each) + {args.stow} stored through STOW-RS; {args.repeat} requests "
          f"per kind over HTTP (admin token)")
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

"""The ``workbench`` command.

``serve`` starts the archive (the server package is loaded only then, by name, so the
library never depends on it); ``drive`` runs the DICOM listener alone or the forwarder of
a remote site (``server/dimse``); ``ingest`` sends files to an archive over DICOMweb;
``demo`` writes the seeded demo data set; ``retention purge`` deletes expired studies;
``billing run`` and ``retention report`` run the administrators' notebooks (papermill);
``db copy`` moves the index to an empty database (e.g. SQLite to PostgreSQL);
``measure volume`` grows a region in a series and measures it (``workbench.measure.cli``);
``version`` prints the version.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import workbench

DEFAULT_URL = "http://127.0.0.1:8042/dicom-web"


def _token(args: argparse.Namespace) -> str | None:
    if args.token:
        return str(args.token)
    if os.environ.get("WORKBENCH_TOKEN"):
        return os.environ["WORKBENCH_TOKEN"]
    data_dir = Path(os.environ.get("WORKBENCH_DATA_DIR", "data"))
    token_file = data_dir / "admin-token"
    if token_file.exists():
        return token_file.read_text().strip()
    return None


def _cmd_serve(args: argparse.Namespace) -> int:
    serve = importlib.import_module("server.serve")
    serve.run(args.host, args.port, args.data_dir, args.demo, args.workers, args.dimse)
    return 0


def _cmd_drive(args: argparse.Namespace) -> int:
    flags = {"WORKBENCH_DIMSE_PORT": args.port, "WORKBENCH_DIMSE_HOST": args.host,
             "WORKBENCH_DIMSE_AE_TITLE": args.ae_title, "WORKBENCH_FORWARD_TOKEN": args.token,
             "WORKBENCH_SPOOL_DIR": args.spool, "WORKBENCH_FORWARD_IDLE_S": args.idle,
             "WORKBENCH_FORWARD_STATUS_PORT": args.status_port,
             "WORKBENCH_DATA_DIR": args.data_dir.resolve() if args.data_dir else None}
    run = importlib.import_module("server.dimse.run")
    code: int = run.drive(forward=args.forward, status_only=args.status,
                          retry_failed=args.retry_failed,
                          overrides={k: str(v) for k, v in flags.items() if v is not None})
    return code


def _cmd_spect(args: argparse.Namespace) -> int:
    import json

    from workbench.spect import analyze_files
    from workbench.spect.report import study_to_dict

    try:
        study = analyze_files(args.files, args.rest, resolution_fwhm_mm=args.fwhm)
    except (ValueError, OSError) as exc:
        print(f"workbench spect analyze: error: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(study_to_dict(study), indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    else:
        print(text)
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    admin = importlib.import_module("server.admin_cli")
    code: int = admin.audit_verify(args.data_dir)
    return code


def _cmd_db_copy(args: argparse.Namespace) -> int:
    admin_db = importlib.import_module("server.admin_db")
    code: int = admin_db.copy_command(args.to, args.data_dir, args.from_url, args.batch_size,
                                      progress=not args.quiet)
    return code


def _cmd_report(args: argparse.Namespace) -> int:
    reports = importlib.import_module("server.services.reports_cli")
    if args.report_command == "verify":
        code: int = reports.verify(args.data_dir, args.report_id)
    else:
        code = reports.rotate_master(args.data_dir)
    return code


def _cmd_retention_purge(args: argparse.Namespace) -> int:
    from datetime import datetime

    purge = importlib.import_module("server.services.purge")
    as_of = datetime.fromisoformat(args.as_of) if args.as_of else None
    report = purge.purge_data_dir(args.data_dir, dry_run=args.dry_run, as_of=as_of)
    print(report.text())
    return 1 if report.failed else 0


def _cmd_notebook(args: argparse.Namespace) -> int:
    from workbench.statements import run_notebook

    url = args.url.rstrip("/").removesuffix("/dicom-web")
    common = {"archive_url": url, "token": _token(args), "all_accounts": not args.own}
    if args.command == "billing":
        parameters = {**common, "period": args.period or "", "account_id": args.account}
        name = "billing"
    else:
        parameters = {**common, "as_of": args.as_of or "", "horizon_days": args.horizon,
                      "dry_run": not args.own}
        name = "retention"
    executed = run_notebook(name, Path(args.output), parameters)
    print(f"wrote {args.output} (executed notebook: {executed})")
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from workbench.ingest import IngestError, IngestInterrupted, ingest_paths
    from workbench.ingest_media import MediaTarget

    media = None
    if args.study or args.patient:
        media = MediaTarget(study_uid=args.study, patient_id=args.patient, issuer=args.issuer,
                            upload_type=args.upload_type, store_as_dicom=args.as_dicom)
    try:
        summary = ingest_paths(
            [Path(p) for p in args.paths], url=args.url, token=_token(args),
            state_file=Path(args.state) if args.state else None, progress=not args.quiet,
            media=media,
        )
    except IngestError as exc:
        print(f"workbench ingest: error: {exc}", file=sys.stderr)
        return 2
    except IngestInterrupted as exc:
        print(exc.summary.report())
        return 130
    print(summary.report())
    return 0 if not summary.rejected else 1


def _cmd_measure(args: argparse.Namespace) -> int:
    from workbench.measure.cli import run_volume

    return run_volume(args, _token(args))


def _cmd_demo(args: argparse.Namespace) -> int:
    from workbench.demo import demo_datasets, write_datasets

    paths = write_datasets(demo_datasets(seed=args.seed), Path(args.folder), progress=True)
    print(f"wrote {len(paths)} files under {args.folder}")
    return 0


def _cmd_version(_args: argparse.Namespace) -> int:
    print(f"workbench {workbench.__version__}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``workbench`` command."""
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the archive and reading workbench")
    serve.add_argument("--host", help="address to bind (WORKBENCH_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (WORKBENCH_PORT, default 8042)")
    serve.add_argument("--data-dir", type=Path,
                       help="index and blobs folder (WORKBENCH_DATA_DIR, default ./data)")
    serve.add_argument("--workers", type=int,
                       help="server processes (WORKBENCH_WORKERS; default one per core, max 4)")
    serve.add_argument("--demo", action="store_true",
                       help="load the seeded demo studies when the archive is empty")
    serve.add_argument("--dimse", type=int, metavar="PORT",
                       help="also run the DIMSE listener on PORT (WORKBENCH_DIMSE_PORT)")
    serve.set_defaults(func=_cmd_serve)

    drive = sub.add_parser("drive", help="DICOM listener alone, or a forwarder to a remote "
                                         "archive (--forward URL); see docs/dimse.md")
    drive.add_argument("--port", type=int, help="DIMSE port (WORKBENCH_DIMSE_PORT, 11112)")
    drive.add_argument("--host", help="address to bind (WORKBENCH_DIMSE_HOST)")
    drive.add_argument("--ae-title", help="called AE title (WORKBENCH_DIMSE_AE_TITLE)")
    drive.add_argument("--data-dir", type=Path, help="archive data directory (listener)")
    drive.add_argument("--forward", metavar="URL",
                       help="spool what arrives and send idle studies to this DICOMweb root")
    drive.add_argument("--token", help="bearer token (upload key) for the remote archive")
    drive.add_argument("--spool", help="spool folder (default <data dir>/spool)")
    drive.add_argument("--idle", type=float, help="seconds without new instances after "
                                                  "which a study is sent (default 30)")
    drive.add_argument("--status-port", type=int,
                       help="serve the forwarder's status as JSON on this port (GET /status)")
    drive.add_argument("--status", action="store_true",
                       help="print the spool's status (spooled, sent, failed) and exit")
    drive.add_argument("--retry-failed", action="store_true",
                       help="move instances the remote refused back into the spool first")
    drive.set_defaults(func=_cmd_drive)

    ingest = sub.add_parser("ingest", help="send DICOM files, folders and zips to an archive")
    ingest.add_argument("paths", nargs="+", help="files, folders (recursive) or .zip files")
    ingest.add_argument("--url", default=os.environ.get("WORKBENCH_URL", DEFAULT_URL),
                        help=f"DICOMweb root of the archive (default {DEFAULT_URL})")
    ingest.add_argument("--token", help="bearer token (default: WORKBENCH_TOKEN or "
                                        "<data dir>/admin-token)")
    ingest.add_argument("--state", help="resume file recording what was sent (default "
                                        "~/.cache/workbench/ingest-<hash>.json)")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    media = ingest.add_argument_group(
        "non-DICOM files", "with --study or --patient, files that are not DICOM (PDF, DOC, "
        "RTF, images, audio, video) are stored as media of that study or folder")
    target = media.add_mutually_exclusive_group()
    target.add_argument("--study", help="Study Instance UID the files belong to")
    target.add_argument("--patient", help="Patient ID of the folder the files belong to")
    media.add_argument("--issuer", default="", help="Issuer of Patient ID (with --patient)")
    media.add_argument("--upload-type", default="other",
                       choices=["image", "document", "scanned_document", "audio", "video",
                                "other"], help="what the files are (default: other)")
    media.add_argument("--as-dicom", action="store_true",
                       help="also store PDFs and images as DICOM (Encapsulated PDF, "
                            "Secondary Capture)")
    ingest.set_defaults(func=_cmd_ingest)

    demo = sub.add_parser("demo", help="write the seeded demo data set as DICOM files")
    demo.add_argument("folder")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_cmd_demo)

    audit = sub.add_parser("audit", help="check the archive's audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="recompute the hash chain; exit 3 if tampered")
    verify.add_argument("--data-dir", type=Path,
                        help="data directory (WORKBENCH_DATA_DIR, default ./data)")
    verify.set_defaults(func=_cmd_audit)

    database = sub.add_parser("db", help="the index database")
    db_sub = database.add_subparsers(dest="db_command", required=True)
    copy = db_sub.add_parser(
        "copy", help="copy the index (e.g. SQLite) into an empty database (e.g. PostgreSQL); "
                     "stop the archive first")
    copy.add_argument("--to", required=True, metavar="URL",
                      help="SQLAlchemy URL of the empty target, e.g. "
                           "postgresql+psycopg://user@host/workbench")
    copy.add_argument("--from", dest="from_url", metavar="URL",
                      help="source URL (default: WORKBENCH_DATABASE_URL or the data dir's "
                           "index.sqlite)")
    copy.add_argument("--data-dir", type=Path,
                      help="data directory (WORKBENCH_DATA_DIR, default ./data)")
    copy.add_argument("--batch-size", type=int, default=2000, help="rows per statement")
    copy.add_argument("--quiet", action="store_true", help="no progress bar")
    copy.set_defaults(func=_cmd_db_copy)

    signed = sub.add_parser("report", help="reports: verify signatures, rotate the master key")
    report_sub = signed.add_subparsers(dest="report_command", required=True)
    report_verify = report_sub.add_parser(
        "verify", help="verify a report's signatures (all reports without an id); exit 3 if "
        "any is invalid")
    report_verify.add_argument("report_id", nargs="?", help="report id (default: every report)")
    rotate = report_sub.add_parser(
        "rotate-master-key", help="re-seal every signing key under a new master key")
    for parser_ in (report_verify, rotate):
        parser_.add_argument("--data-dir", type=Path,
                             help="data directory (WORKBENCH_DATA_DIR, default ./data)")
        parser_.set_defaults(func=_cmd_report)

    retention = sub.add_parser("retention", help="storage terms: purge, report")
    retention_sub = retention.add_subparsers(dest="retention_command", required=True)
    purge = retention_sub.add_parser(
        "purge", help="delete expired studies without a legal hold (keeps a minimal record, "
                      "audits each deletion); safe to interrupt and rerun")
    purge.add_argument("--dry-run", action="store_true", help="only list what would go")
    purge.add_argument("--as-of", help="with --dry-run: judge expiry at this ISO time (UTC)")
    purge.add_argument("--data-dir", type=Path,
                       help="data directory (WORKBENCH_DATA_DIR, default ./data)")
    purge.set_defaults(func=_cmd_retention_purge)
    report = retention_sub.add_parser("report", help="run notebooks/retention.ipynb")
    report.add_argument("--as-of", help="ISO date the report is judged at (default: now)")
    report.add_argument("--horizon", type=int, default=30, help="days ahead (default 30)")
    billing = sub.add_parser("billing", help="billing notebooks")
    billing_sub = billing.add_subparsers(dest="billing_command", required=True)
    run = billing_sub.add_parser("run", help="run notebooks/billing.ipynb: invoices")
    run.add_argument("--period", help="month YYYY-MM (default: the previous month)")
    run.add_argument("--account", type=int, help="only this account (staff)")
    for notebook in (report, run):
        notebook.add_argument("--url", default=os.environ.get("WORKBENCH_URL",
                                                              "http://127.0.0.1:8042"),
                              help="the archive's root URL")
        notebook.add_argument("--token", help="bearer token (default: WORKBENCH_TOKEN or "
                                              "<data dir>/admin-token)")
        notebook.add_argument("--own", action="store_true",
                              help="only the token's own account (account administrators)")
        notebook.add_argument("--output", default="reports", help="output folder")
        notebook.set_defaults(func=_cmd_notebook)

    spect = sub.add_parser("spect", help="Gated SPECT analysis of NM files")
    spect_sub = spect.add_subparsers(dest="spect_command", required=True)
    analyze = spect_sub.add_parser(
        "analyze", help="volumes, EF, perfusion scores, TID and phase as JSON")
    analyze.add_argument("files", nargs="+", help="NM files of the stress (or only) set")
    analyze.add_argument("--rest", nargs="*", default=[], help="NM files of the rest set")
    analyze.add_argument("--fwhm", type=float, help="system resolution in mm (default: fitted)")
    analyze.add_argument("--json", help="write the results here instead of standard output")
    analyze.set_defaults(func=_cmd_spect)

    measure = sub.add_parser("measure", help="measurements from the command line")
    measure_sub = measure.add_subparsers(dest="measure_command", required=True)
    volume = measure_sub.add_parser(
        "volume", help="grow a region from seeds; print its volume, surface and statistics")
    volume.add_argument("series", help="folder of DICOM files, or a study or series UID on "
                                       "the archive")
    volume.add_argument("--seed", action="append", required=True, metavar="X,Y,Z",
                        help="seed in patient LPS mm, repeatable (a negative first value "
                             "as --seed=-12,4,30)")
    volume.add_argument("--lower", type=float, help="lowest value inside (HU for CT)")
    volume.add_argument("--upper", type=float, help="highest value inside (HU for CT)")
    volume.add_argument("--tolerance", type=float,
                        help="a missing bound is the seed value -/+ this")
    volume.add_argument("--connectivity", type=int, choices=(1, 2, 3), default=1,
                        help="neighbours: 1 faces (default), 2 edges, 3 corners")
    volume.add_argument("--series-uid", help="which series of the folder or study "
                                             "(default: the largest image series)")
    volume.add_argument("--json", action="store_true", help="print JSON instead of a table")
    volume.add_argument("--seg-out", metavar="FILE", help="write the mask as DICOM SEG")
    volume.add_argument("--store", action="store_true",
                        help="store the SEG on the archive (STOW-RS)")
    volume.add_argument("--label", default="region", help="Segment Label of the SEG")
    volume.add_argument("--url", default=os.environ.get("WORKBENCH_URL", DEFAULT_URL),
                        help=f"DICOMweb root of the archive (default {DEFAULT_URL})")
    volume.add_argument("--token", help="bearer token (default: WORKBENCH_TOKEN or "
                                        "<data dir>/admin-token)")
    volume.add_argument("--quiet", action="store_true", help="no progress bar")
    volume.set_defaults(func=_cmd_measure)

    version = sub.add_parser("version", help="print the version")
    version.set_defaults(func=_cmd_version)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())

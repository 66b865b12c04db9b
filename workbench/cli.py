"""The ``workbench`` command.

``serve`` starts the archive (the server package is loaded only then, by name, so the
library never depends on it); ``ingest`` sends files to an archive over DICOMweb;
``demo`` writes the seeded demo data set; ``version`` prints the version.
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
    serve.run(args.host, args.port, args.data_dir, args.demo, args.workers)
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    admin = importlib.import_module("server.admin_cli")
    code: int = admin.audit_verify(args.data_dir)
    return code


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
    serve.set_defaults(func=_cmd_serve)

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

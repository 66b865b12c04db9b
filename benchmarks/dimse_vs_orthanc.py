#!/usr/bin/env python3
"""C-STORE throughput of our DIMSE listener against Orthanc's, with dcmtk's ``storescu``.

Both archives run on loopback with fresh storage (``benchmarks/_peers.py``): ``workbench
serve`` with its DIMSE listener (``WORKBENCH_DIMSE_PORT``), and Orthanc with
``TCP_NODELAY=1`` in its environment (dcmtk, inside Orthanc, keeps Nagle's algorithm on
otherwise and each DIMSE message would wait ~40 ms). The client is the same ``storescu``
for both, also with ``TCP_NODELAY=1``, sending the same seeded 512 x 512 CT instances
(~526 KB each), new ones in every round: 1 association with all of a round's files, then
4 associations at once with a quarter each. Servers alternate in order from round to
round; the median round is reported. A ratio above 1 means workbench stored faster.

    .venv/bin/python benchmarks/dimse_vs_orthanc.py              # ~2 minutes
    .venv/bin/python benchmarks/dimse_vs_orthanc.py --instances 100 --rounds 1  # smoke

Needs dcmtk (``storescu``) and Debian's ``orthanc`` and ``orthanc-dicomweb`` packages.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pydicom
from _peers import Peer, PeerError, start_orthanc, start_workbench

from workbench.demo import iter_ct_series, synthetic_patient

REPO = Path(__file__).resolve().parent.parent
CALLING = "BENCHSCU"
GOAL = 1.0


@dataclass(frozen=True)
class Target:
    """Where storescu sends: a peer's DICOM port and called AE title."""

    peer: Peer
    port: int
    called: str


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 120) -> None:
    """Wait until something accepts connections on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise PeerError(f"nothing listens on DICOM port {port} after {timeout:.0f} s")


def write_rounds(folder: Path, rounds: int, per_round: int, seed: int) -> list[list[Path]]:
    """Write ``rounds`` x ``per_round`` new CT instances (two sets: 1 and 4 associations)."""
    out = []
    for index in range(rounds * 2):
        target = folder / f"set{index:02d}"
        target.mkdir(parents=True)
        patient = synthetic_patient(seed, index, prefix="DIMSE")
        paths = []
        for number, ds in enumerate(iter_ct_series(patient, seed=seed * 31 + index,
                                                   n_slices=per_round)):
            path = target / f"{number:05d}.dcm"
            pydicom.dcmwrite(path, ds, enforce_file_format=True)
            paths.append(path)
        out.append(paths)
    return out


def storescu(target: Target, files: Sequence[Path]) -> subprocess.Popen[str]:
    """Start one storescu association sending ``files``."""
    argv = ["storescu", "-aet", CALLING, "-aec", target.called, "127.0.0.1",
            str(target.port), *map(str, files)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=dict(os.environ, TCP_NODELAY="1"))


def timed_store(target: Target, files: Sequence[Path], associations: int) -> float:
    """Send ``files`` over ``associations`` parallel associations; instances per second."""
    chunks = [files[i::associations] for i in range(associations)]
    start = time.perf_counter()
    running = [storescu(target, chunk) for chunk in chunks]
    outputs = [p.communicate(timeout=1800)[0] for p in running]
    seconds = time.perf_counter() - start
    for process, output in zip(running, outputs, strict=True):
        if process.returncode != 0 or "E:" in output:
            raise RuntimeError(f"storescu into {target.peer.name} failed:\n{output[-2000:]}")
    return len(files) / seconds


def count_instances(peer: Peer) -> int:
    """Instances the peer holds (checks that every sent instance was stored)."""
    if peer.name == "Orthanc":
        base = peer.dicomweb.rsplit("/dicom-web", 1)[0]
        return int(httpx.get(f"{base}/statistics", timeout=30).json()["CountInstances"])
    studies = httpx.get(f"{peer.dicomweb}/studies", params={"limit": "1000"},
                        headers=dict(peer.headers), timeout=60).json()
    return sum(int(s.get("00201208", {}).get("Value", [0])[0]) for s in studies)


def workbench_target(stack: ExitStack, folder: Path) -> Target:
    """Start ``workbench serve`` with its listener; register storescu as a source."""
    port = free_port()
    os.environ["WORKBENCH_DIMSE_PORT"] = str(port)
    peer = stack.enter_context(start_workbench(folder, REPO))
    wait_port(port)
    r = httpx.post(peer.dicomweb.replace("/dicom-web", "/api/sources"),
                   json={"name": "benchmark storescu", "ae_title": CALLING},
                   headers=dict(peer.headers), timeout=30)
    if r.status_code != 201:
        raise PeerError(f"cannot register the benchmark source: {r.status_code} {r.text}")
    return Target(peer, port, "WORKBENCH")


def orthanc_target(stack: ExitStack, folder: Path, args: argparse.Namespace) -> Target:
    """Start Orthanc (``TCP_NODELAY=1`` inherited) and find its DICOM port."""
    os.environ["TCP_NODELAY"] = "1"
    peer = stack.enter_context(start_orthanc(folder, binary=args.orthanc,
                                             plugin=args.dicomweb_plugin))
    config = json.loads((folder / "orthanc.json").read_text())
    port = int(config["DicomPort"])
    wait_port(port)
    return Target(peer, port, str(config.get("DicomAet", "ORTHANC")))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=200,
                        help="512x512 CT instances per round and configuration (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, median reported")
    parser.add_argument("--seed", type=int, default=2000)
    parser.add_argument("--orthanc", help="Orthanc binary (default: Debian's)")
    parser.add_argument("--dicomweb-plugin", help="libOrthancDicomWeb.so (default: Debian's)")
    parser.add_argument("--workdir", type=Path, help="parent of the temporary folders")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the table."""
    args = parse_args(argv)
    if shutil.which("storescu") is None:
        print("storescu not found: install dcmtk (apt-get install dcmtk)", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="wb-dimse-bench-", dir=args.workdir))
    load = [os.getloadavg()[0]]
    rates: dict[tuple[str, int], list[float]] = {}
    try:
        print(f"writing {args.rounds * 2} x {args.instances} CT instances ...",
              file=sys.stderr)
        sets = write_rounds(root / "data", args.rounds, args.instances, args.seed)
        warm = write_rounds(root / "warm", 1, 8, args.seed + 1)[0]
        with ExitStack() as stack:
            targets = [workbench_target(stack, root / "workbench"),
                       orthanc_target(stack, root / "orthanc", args)]
            for target in targets:
                timed_store(target, warm, 1)
            for index in range(args.rounds):
                order = targets if index % 2 == 0 else targets[::-1]
                for associations, files in ((1, sets[2 * index]), (4, sets[2 * index + 1])):
                    for target in order:
                        rate = timed_store(target, files, associations)
                        rates.setdefault((target.peer.name, associations), []).append(rate)
                        print(f"  round {index + 1}: {target.peer.name}, {associations} "
                              f"association(s): {rate:.1f} inst/s", file=sys.stderr)
            expected = len(warm) + args.rounds * 2 * args.instances
            for target in targets:
                held = count_instances(target.peer)
                if held != expected:
                    raise RuntimeError(f"{target.peer.name} holds {held} instances, "
                                       f"{expected} were sent")
            versions = {t.peer.name: t.peer.version for t in targets}
        load.append(os.getloadavg()[0])
    except (PeerError, RuntimeError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rows = []
    print(f"\nC-STORE with storescu, 512x512 CT, {args.instances} instances per round, "
          f"median of {args.rounds}; load average {load[0]:.1f} -> {load[-1]:.1f}")
    print(f"{versions}\n")
    print("| figure | workbench | Orthanc | ratio | goal | met? |")
    print("|---|---:|---:|---:|---:|:---:|")
    for associations in (1, 4):
        ours = statistics.median(rates[("workbench", associations)])
        theirs = statistics.median(rates[("Orthanc", associations)])
        ratio = ours / theirs
        rows.append({"associations": associations, "workbench": ours, "orthanc": theirs,
                     "ratio": ratio})
        print(f"| C-STORE 512x512, {associations} association(s) | {ours:.1f} inst/s | "
              f"{theirs:.1f} inst/s | {ratio:.2f}x | >= {GOAL:g}x | "
              f"{'yes' if ratio >= GOAL else 'NO'} |")
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows, "rates": {
            f"{k[0]}/{k[1]}": v for k, v in rates.items()}, "load": load}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

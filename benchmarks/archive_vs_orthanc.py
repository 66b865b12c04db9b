#!/usr/bin/env python3
"""Measure our archive against Orthanc, the same data through the same client.

The script starts both servers on loopback (free ports, each with a fresh temporary
storage folder), stores the same seeded data set into each through the same STOW-RS
client code, then measures QIDO-RS, series metadata, WADO-RS series retrieval, frames and
rendered images, alternating between the two servers so that a disturbance of the machine
hits both alike. It prints every figure for both servers and the ratio, oriented so that a
ratio above 1 means workbench is better (throughput: ours / Orthanc's; latency: Orthanc's /
ours), next to the goal the figure has to meet.

It installs nothing. Orthanc and its DICOMweb plugin come from Debian::

    sudo apt-get install orthanc orthanc-dicomweb    # or: make bench

(``make bench`` runs ``scripts/system-packages.sh bench`` first, which installs them when
missing and stops the system service the package starts.) Run it as::

    .venv/bin/python benchmarks/archive_vs_orthanc.py            # about 3-6 minutes
    .venv/bin/python benchmarks/archive_vs_orthanc.py --quick    # smoke run, under a minute
    .venv/bin/python benchmarks/archive_vs_orthanc.py --studies 8 --slices 100 --json out.json

See ``benchmarks/README.md`` for what each figure means and the fairness notes.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import pydicom
from _peers import Peer, PeerError, start_orthanc, start_workbench
from pydicom.dataset import Dataset
from tqdm import tqdm

from workbench.demo import benchmark_ct_studies, iter_ct_series, synthetic_patient

REPO = Path(__file__).resolve().parent.parent
DICOM_JSON = "application/dicom+json"
ACCEPT_DICOM = 'multipart/related; type="application/dicom"; transfer-syntax=*'
ACCEPT_FRAMES = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
QIDO_LIMIT = 1000
STOW_CONFIGS: tuple[tuple[int, int], ...] = ((1, 1), (4, 1), (1, 10), (4, 10))
SMALL_SIZE = 64
WARMUP_INSTANCES = 8
HTTP_TIMEOUT = httpx.Timeout(300.0, connect=10.0)
CHUNK = 1 << 20

GOAL_STOW = 1.5
GOAL_FAST = 5.0
GOAL_PAR = 1.0


class RequestFailed(RuntimeError):
    """A server answered a request wrongly: bad status or content that fails a check."""

    def __init__(self, method: str, url: str, status: int | None, detail: str,
                 body: bytes = b"") -> None:
        excerpt = body[:600].decode("utf-8", errors="replace")
        text = f"{method} {url} -> {status}: {detail}"
        if excerpt:
            text += f"\n    response body starts: {excerpt!r}"
        super().__init__(text)


# --------------------------------------------------------------------------- data set


@dataclass(frozen=True)
class Instance:
    """One serialised DICOM instance and what the checks need to know about it."""

    study: str
    series: str
    sop: str
    patient_id: str
    frame_bytes: int
    data: bytes


@dataclass
class Corpus:
    """The data set, serialised once and sent identically to both servers."""

    large: list[Instance]
    small: list[Instance]
    seconds: float = 0.0
    series: dict[str, list[Instance]] = field(default_factory=dict)
    studies_of_patient: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for inst in self.large:
            self.series.setdefault(inst.series, []).append(inst)
        seen: set[tuple[str, str]] = set()
        for inst in [*self.large, *self.small]:
            if (inst.patient_id, inst.study) not in seen:
                seen.add((inst.patient_id, inst.study))
                self.studies_of_patient[inst.patient_id] = (
                    self.studies_of_patient.get(inst.patient_id, 0) + 1)

    @property
    def n_studies(self) -> int:
        """Number of distinct studies, large and small."""
        return len({i.study for i in self.large} | {i.study for i in self.small})

    @property
    def big_series(self) -> list[list[Instance]]:
        """The series with the most instances (the 250-slice series by default)."""
        most = max(len(s) for s in self.series.values())
        return [s for s in self.series.values() if len(s) == most]

    @property
    def nbytes(self) -> int:
        """Total size of the serialised large instances."""
        return sum(len(i.data) for i in self.large)


def serialise(ds: Dataset) -> Instance:
    """Write a dataset as a DICOM file (Part 10) to bytes, once."""
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    frame = int(ds.Rows) * int(ds.Columns) * int(ds.BitsAllocated) // 8 * int(
        getattr(ds, "SamplesPerPixel", 1))
    return Instance(study=str(ds.StudyInstanceUID), series=str(ds.SeriesInstanceUID),
                    sop=str(ds.SOPInstanceUID), patient_id=str(ds.PatientID),
                    frame_bytes=frame, data=buffer.getvalue())


def small_studies(count: int, seed: int) -> Iterator[Dataset]:
    """Yield `count` single-instance 64 x 64 CT studies of distinct patients."""
    for index in range(count):
        patient = synthetic_patient(seed, index, prefix="QIDO")
        yield from iter_ct_series(patient, seed=seed * 7919 + index, n_slices=1,
                                  rows=SMALL_SIZE, columns=SMALL_SIZE,
                                  accession=f"Q{seed % 1000:03d}{index:06d}",
                                  study_description="QIDO BENCHMARK")


def build_corpus(n_studies: int, n_slices: int, n_small: int, seed: int,
                 progress: bool) -> Corpus:
    """Generate and serialise the data set (seeded, so every run sends the same bytes)."""
    start = time.perf_counter()
    total = n_studies * n_slices + n_small
    with tqdm(total=total, desc="generate", unit="inst", disable=not progress,
              leave=False) as bar:
        large = []
        for ds in benchmark_ct_studies(n_studies=n_studies, n_slices=n_slices, seed=seed):
            large.append(serialise(ds))
            bar.update()
        small = []
        for ds in small_studies(n_small, seed):
            small.append(serialise(ds))
            bar.update()
    return Corpus(large=large, small=small, seconds=time.perf_counter() - start)


# --------------------------------------------------------------------------- HTTP


def new_client(peer: Peer) -> httpx.Client:
    """One HTTP session (keep-alive connection pool) for one client."""
    headers = {**peer.headers, "Accept-Encoding": "identity"}
    return httpx.Client(headers=headers, timeout=HTTP_TIMEOUT)


@dataclass(frozen=True)
class Fetched:
    """What a GET brought back, timed from sending to the last body byte."""

    seconds: float
    content_type: str
    nbytes: int
    body: bytes


def fetch(client: httpx.Client, url: str, accept: str, *, keep: bool = True) -> Fetched:
    """GET `url`, read the whole body (kept, or only counted), check the status is 200.

    Raises
    ------
    RequestFailed
        On any other status.
    """
    chunks: list[bytes] = []
    nbytes = 0
    start = time.perf_counter()
    with client.stream("GET", url, headers={"Accept": accept}) as response:
        for chunk in response.iter_raw(CHUNK):
            nbytes += len(chunk)
            if keep or response.status_code != 200:
                chunks.append(chunk)
        seconds = time.perf_counter() - start
        status = response.status_code
        content_type = response.headers.get("content-type", "")
    body = b"".join(chunks)
    if status != 200:
        raise RequestFailed("GET", url, status, f"expected 200 (Accept: {accept})", body)
    return Fetched(seconds, content_type, nbytes, body)


def json_list(fetched: Fetched, url: str) -> list[dict[str, Any]]:
    """Decode a DICOM JSON array answer."""
    try:
        value = json.loads(fetched.body) if fetched.body.strip() else []
    except ValueError as exc:
        raise RequestFailed("GET", url, 200, f"not JSON: {exc}", fetched.body) from exc
    if not isinstance(value, list):
        raise RequestFailed("GET", url, 200, "expected a JSON array", fetched.body)
    return value


def uid_values(items: list[dict[str, Any]], tag: str) -> set[str]:
    """The first values of `tag` in every item of a DICOM JSON array."""
    found: set[str] = set()
    for item in items:
        values = item.get(tag, {}).get("Value") or [None]
        if values[0] is not None:
            found.add(str(values[0]))
    return found


# --------------------------------------------------------------------------- STOW-RS


def stow_body(parts: Sequence[bytes], boundary: str) -> bytes:
    """A ``multipart/related; type="application/dicom"`` body holding `parts`."""
    head = f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
    pieces: list[bytes] = []
    for part in parts:
        pieces += [head, part, b"\r\n"]
    pieces.append(f"--{boundary}--\r\n".encode())
    return b"".join(pieces)


@dataclass(frozen=True)
class StowRequest:
    """One prepared STOW-RS request and the SOP Instance UIDs it must store."""

    body: bytes
    content_type: str
    sops: frozenset[str]


def stow_requests(instances: Sequence[Instance], per_request: int) -> list[StowRequest]:
    """Split `instances` into requests of `per_request` instances each (the last may be
    shorter)."""
    requests = []
    for first in range(0, len(instances), per_request):
        group = instances[first:first + per_request]
        boundary = uuid.uuid4().hex
        requests.append(StowRequest(
            body=stow_body([i.data for i in group], boundary),
            content_type=f'multipart/related; type="application/dicom"; boundary={boundary}',
            sops=frozenset(i.sop for i in group)))
    return requests


def check_stow(url: str, request: StowRequest, status: int, body: bytes) -> None:
    """Check a STOW-RS answer: 200 and every instance referenced, none failed."""
    if status != 200:
        raise RequestFailed("POST", url, status,
                            f"expected 200 for {len(request.sops)} instance(s)", body)
    try:
        answer = json.loads(body)
    except ValueError as exc:
        raise RequestFailed("POST", url, status, f"answer is not JSON: {exc}", body) from exc
    failed = answer.get("00081198", {}).get("Value") or []
    referenced = answer.get("00081199", {}).get("Value") or []
    stored = uid_values(referenced, "00081155")
    if failed or stored != request.sops:
        raise RequestFailed("POST", url, status,
                            f"{len(failed)} failed, {len(stored & request.sops)} of "
                            f"{len(request.sops)} referenced", body)


def post_concurrently(peer: Peer, requests: Sequence[StowRequest], n_clients: int,
                      bar: tqdm[Any] | None) -> float:
    """Post `requests` from `n_clients` threads (one HTTP session each), round robin.

    Returns
    -------
    float
        Seconds from the common start to the last answer. Answers are checked after
        the clock stops.
    """
    url = f"{peer.dicomweb}/studies"
    clients = [new_client(peer) for _ in range(n_clients)]
    answers: list[list[tuple[StowRequest, int, bytes]]] = [[] for _ in range(n_clients)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(n_clients + 1, timeout=60.0)

    def work(index: int) -> None:
        client = clients[index]
        try:
            client.get(peer.ping)  # opens the connection outside the timed section
        except httpx.HTTPError as exc:
            errors.append(exc)
        try:
            barrier.wait()
            for request in requests[index::n_clients]:
                response = client.post(url, content=request.body, headers={
                    "Content-Type": request.content_type, "Accept": DICOM_JSON})
                answers[index].append((request, response.status_code, response.content))
                if bar is not None:
                    bar.update(len(request.sops))
        except Exception as exc:  # reported below, with the request that failed
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,), daemon=True)
               for i in range(n_clients)]
    try:
        for thread in threads:
            thread.start()
        try:
            barrier.wait()
        except threading.BrokenBarrierError as exc:
            raise RequestFailed("POST", url, None, "the clients did not get ready") from exc
        start = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - start
    finally:
        for client in clients:
            client.close()
    if errors:
        raise RequestFailed("POST", url, None, f"transport error: {errors[0]!r}")
    for per_client in answers:
        for request, status, body in per_client:
            check_stow(url, request, status, body)
    if sum(len(a) for a in answers) != len(requests):
        raise RequestFailed("POST", url, None, "not every request was answered")
    return seconds


def plan_rounds(instances: Sequence[Instance], n_clients: int, per_request: int,
                rounds: int) -> tuple[list[list[Instance]], list[Instance]]:
    """Cut `instances` into up to `rounds` timed rounds in which every client sends the
    same number of full requests; what is left over is stored untimed.
    """
    unit = n_clients * per_request
    units = len(instances) // unit
    if units == 0:
        return [list(instances)], []
    rounds = max(1, min(rounds, units))
    size = units // rounds * unit
    timed = [list(instances[r * size:(r + 1) * size]) for r in range(rounds)]
    return timed, list(instances[rounds * size:])


# --------------------------------------------------------------------------- figures


@dataclass
class Figure:
    """One line of the result table."""

    key: str
    label: str
    unit: str
    higher_is_better: bool
    goal: float
    values: dict[str, float | None] = field(default_factory=dict)
    samples: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def ratio(self) -> float | None:
        """How many times better workbench is than Orthanc (>1: workbench better)."""
        ours, theirs = self.values.get("workbench"), self.values.get("Orthanc")
        if ours is None or theirs is None or ours <= 0 or theirs <= 0:
            return None
        return ours / theirs if self.higher_is_better else theirs / ours

    def met(self) -> bool | None:
        """Whether the ratio reaches the goal (None when a value is missing)."""
        ratio = self.ratio()
        return None if ratio is None else ratio >= self.goal

    def as_json(self) -> dict[str, Any]:
        """The figure as plain JSON values."""
        return {"key": self.key, "label": self.label, "unit": self.unit,
                "higher_is_better": self.higher_is_better, "values": self.values,
                "samples": self.samples, "ratio": self.ratio(), "goal": self.goal,
                "met": self.met(), "errors": self.errors}


@dataclass
class Plan:
    """Sizes and repetitions of a run."""

    n_studies: int
    n_slices: int
    n_small: int
    seed: int
    rounds: int
    budget_s: float
    reps: dict[str, int]


FULL_REPS = {"qido_patient": 300, "qido_all": 40, "qido_instances": 100, "metadata": 60,
             "wado_series": 12, "frame": 300, "rendered": 150}
QUICK_REPS = {"qido_patient": 40, "qido_all": 6, "qido_instances": 12, "metadata": 6,
              "wado_series": 3, "frame": 30, "rendered": 20}


class Bench:
    """Runs the measurements against the peers and collects the figures."""

    def __init__(self, peers: Sequence[Peer], corpus: Corpus, plan: Plan,
                 progress: bool) -> None:
        self.peers = list(peers)
        self.corpus = corpus
        self.plan = plan
        self.progress = progress
        self.figures: list[Figure] = []
        self.rng = np.random.default_rng(plan.seed)

    # -- STOW

    def _ordered(self, turn: int) -> list[Peer]:
        return self.peers if turn % 2 == 0 else self.peers[::-1]

    def stow(self, key: str, label: str, instances: Sequence[Instance], n_clients: int,
             per_request: int, bar: tqdm[Any] | None, turn: int) -> None:
        """Store `instances` into every peer in timed rounds; median instances/s."""
        figure = Figure(key, label, "inst/s", True, GOAL_STOW)
        self.figures.append(figure)
        timed, rest = plan_rounds(instances, n_clients, per_request, self.plan.rounds)
        rates: dict[str, list[float]] = {p.name: [] for p in self.peers}
        for number, group in enumerate(timed):
            requests = stow_requests(group, per_request)
            for peer in self._ordered(turn + number):
                if peer.name in figure.errors:
                    continue
                try:
                    seconds = post_concurrently(peer, requests, n_clients, bar)
                    rates[peer.name].append(len(group) / seconds)
                except RequestFailed as exc:
                    figure.errors[peer.name] = str(exc)
        if rest:
            requests = stow_requests(rest, 1)
            for peer in self.peers:
                try:
                    post_concurrently(peer, requests, 1, bar)
                except RequestFailed as exc:
                    figure.errors.setdefault(peer.name, str(exc))
        for peer in self.peers:
            values = rates[peer.name]
            figure.values[peer.name] = (float(np.median(values))
                                        if values and peer.name not in figure.errors else None)
            figure.samples[peer.name] = len(values)

    def load(self) -> None:
        """Warm up, then store the large series (four ways) and the small studies."""
        corpus = self.corpus
        warm, small = corpus.small[:WARMUP_INSTANCES], corpus.small[WARMUP_INSTANCES:]
        total = (len(corpus.large) + len(corpus.small)) * len(self.peers)
        with tqdm(total=total, desc="STOW-RS", unit="inst", disable=not self.progress,
                  leave=False) as bar:
            for peer in self.peers:
                try:
                    post_concurrently(peer, stow_requests(warm, 1), 1, bar)
                except RequestFailed as exc:
                    raise RequestFailed("POST", peer.dicomweb + "/studies", None,
                                        f"{peer.name} failed the warm-up STOW: {exc}") from exc
            n = len(corpus.large)
            cuts = [round(k * n / len(STOW_CONFIGS)) for k in range(len(STOW_CONFIGS) + 1)]
            size = _shape(corpus.large[0]) if corpus.large else "?"
            for k, (clients, per_request) in enumerate(STOW_CONFIGS):
                share = corpus.large[cuts[k]:cuts[k + 1]]
                if not share:
                    continue
                label = (f"STOW-RS {size}, {clients} client{'s' if clients > 1 else ''}, "
                         f"{per_request}/request")
                self.stow(f"stow_{clients}c_{per_request}pr", label, share, clients,
                          per_request, bar, k)
            self.stow("stow_small_4c_10pr",
                      f"STOW-RS {SMALL_SIZE}x{SMALL_SIZE}, 4 clients, 10/request", small, 4,
                      10, bar, 0)

    # -- reads

    def reads(self, key: str, label: str, reps_key: str,
              op: Callable[[Peer, httpx.Client, int], float], *, throughput: bool = False,
              goal: float = GOAL_PAR, unit: str = "ms") -> None:
        """Repeat `op` alternately on the peers (one warm-up call each, untimed), within the
        repetition count and the time budget; record p50 and p95 (or the median rate)."""
        reps = self.plan.reps[reps_key]
        samples: dict[str, list[float]] = {p.name: [] for p in self.peers}
        errors: dict[str, str] = {}
        clients = {p.name: new_client(p) for p in self.peers}
        try:
            for peer in self.peers:
                try:
                    op(peer, clients[peer.name], reps)  # warm-up, untimed
                except (RequestFailed, httpx.HTTPError) as exc:
                    errors[peer.name] = str(exc)
            deadline = time.monotonic() + self.plan.budget_s
            for rep in range(reps):
                if rep >= 3 and time.monotonic() > deadline:
                    break
                for peer in self._ordered(rep):
                    if peer.name in errors:
                        continue
                    try:
                        samples[peer.name].append(op(peer, clients[peer.name], rep))
                    except (RequestFailed, httpx.HTTPError) as exc:
                        errors[peer.name] = str(exc)
        finally:
            for client in clients.values():
                client.close()
        if throughput:
            figure = Figure(key, label, unit, True, goal)
            for name, values in samples.items():
                figure.values[name] = float(np.median(values)) if values else None
                figure.samples[name] = len(values)
            figure.errors = dict(errors)
            self.figures.append(figure)
            return
        for q in (50, 95):
            figure = Figure(f"{key}_p{q}", f"{label} p{q}", "ms", False, goal)
            for name, values in samples.items():
                ok = values and name not in errors
                figure.values[name] = float(np.percentile(values, q)) * 1e3 if ok else None
                figure.samples[name] = len(values)
            figure.errors = dict(errors)
            self.figures.append(figure)

    def measure_reads(self) -> None:
        """QIDO-RS, series metadata, WADO-RS series, frames and rendered images."""
        corpus = self.corpus
        patients = sorted(corpus.studies_of_patient)
        patient_order = [patients[int(i)] for i in self.rng.permutation(len(patients))]
        big = corpus.big_series
        frames = [corpus.large[int(i)] for i in self.rng.permutation(len(corpus.large))]
        expected_all = min(corpus.n_studies, QIDO_LIMIT)

        def qido_patient(peer: Peer, client: httpx.Client, rep: int) -> float:
            pid = patient_order[rep % len(patient_order)]
            url = f"{peer.dicomweb}/studies?PatientID={quote(pid)}"
            got = fetch(client, url, DICOM_JSON)
            found = len(json_list(got, url))
            if found != corpus.studies_of_patient[pid]:
                raise RequestFailed("GET", url, 200, f"{found} studies, expected "
                                    f"{corpus.studies_of_patient[pid]}", got.body)
            return got.seconds

        def qido_all(peer: Peer, client: httpx.Client, rep: int) -> float:
            url = f"{peer.dicomweb}/studies?limit={QIDO_LIMIT}"
            got = fetch(client, url, DICOM_JSON)
            found = len(json_list(got, url))
            if found != expected_all:
                raise RequestFailed("GET", url, 200,
                                    f"{found} studies, expected {expected_all}", got.body)
            return got.seconds

        def series_url(peer: Peer, series: list[Instance]) -> str:
            return f"{peer.dicomweb}/studies/{series[0].study}/series/{series[0].series}"

        def check_items(url: str, got: Fetched, series: list[Instance], rows: bool) -> None:
            items = json_list(got, url)
            sops = uid_values(items, "00080018")
            if len(items) != len(series) or sops != {i.sop for i in series}:
                raise RequestFailed("GET", url, 200, f"{len(items)} items ({len(sops)} SOP "
                                    f"Instance UIDs), expected {len(series)}", got.body)
            if rows and not all("00280010" in item for item in items):
                raise RequestFailed("GET", url, 200, "an item lacks Rows (0028,0010): not "
                                    "full metadata", got.body)

        def qido_instances(peer: Peer, client: httpx.Client, rep: int) -> float:
            series = big[rep % len(big)]
            url = f"{series_url(peer, series)}/instances"
            got = fetch(client, url, DICOM_JSON)
            check_items(url, got, series, rows=False)
            return got.seconds

        def metadata(peer: Peer, client: httpx.Client, rep: int) -> float:
            series = big[rep % len(big)]
            url = f"{series_url(peer, series)}/metadata"
            got = fetch(client, url, DICOM_JSON)
            check_items(url, got, series, rows=True)
            return got.seconds

        def wado_series(peer: Peer, client: httpx.Client, rep: int) -> float:
            series = big[rep % len(big)]
            url = series_url(peer, series)
            got = fetch(client, url, ACCEPT_DICOM, keep=False)
            least = sum(len(i.data) for i in series)
            if not got.content_type.startswith("multipart/related") or got.nbytes < least:
                raise RequestFailed("GET", url, 200, f"{got.nbytes} bytes of "
                                    f"{got.content_type!r}; expected at least {least} bytes "
                                    "of multipart/related")
            return got.nbytes / 1e6 / got.seconds

        def frame(peer: Peer, client: httpx.Client, rep: int) -> float:
            inst = frames[rep % len(frames)]
            url = (f"{peer.dicomweb}/studies/{inst.study}/series/{inst.series}/instances/"
                   f"{inst.sop}/frames/1")
            got = fetch(client, url, ACCEPT_FRAMES)
            if got.nbytes < inst.frame_bytes:
                raise RequestFailed("GET", url, 200, f"{got.nbytes} bytes, expected at least "
                                    f"{inst.frame_bytes}", got.body)
            return got.seconds

        def rendered(peer: Peer, client: httpx.Client, rep: int) -> float:
            inst = frames[(rep + len(frames) // 2) % len(frames)]
            url = (f"{peer.dicomweb}/studies/{inst.study}/series/{inst.series}/instances/"
                   f"{inst.sop}/rendered")
            got = fetch(client, url, "image/jpeg")
            if not got.content_type.startswith("image/jpeg") or got.body[:2] != b"\xff\xd8":
                raise RequestFailed("GET", url, 200, f"not a JPEG ({got.content_type!r})",
                                    got.body[:64])
            return got.seconds

        n_series = len(big[0])
        steps: list[tuple[str, Callable[[], None]]] = [
            ("QIDO by PatientID", lambda: self.reads(
                "qido_patient", "QIDO /studies?PatientID=", "qido_patient", qido_patient)),
            (f"QIDO {expected_all} studies", lambda: self.reads(
                "qido_all", f"QIDO /studies?limit={QIDO_LIMIT} ({expected_all} studies)",
                "qido_all", qido_all)),
            ("QIDO instances", lambda: self.reads(
                "qido_instances", f"QIDO instances of a {n_series}-instance series",
                "qido_instances", qido_instances, goal=GOAL_FAST)),
            ("series metadata", lambda: self.reads(
                "metadata", f"series metadata ({n_series} instances)", "metadata", metadata,
                goal=GOAL_FAST)),
            ("WADO-RS series", lambda: self.reads(
                "wado_series", f"WADO-RS series retrieval ({n_series} instances)",
                "wado_series", wado_series, throughput=True, unit="MB/s")),
            ("frames", lambda: self.reads("frame", "frame 1 of an instance", "frame", frame)),
            ("rendered", lambda: self.reads(
                "rendered", "rendered instance (JPEG)", "rendered", rendered)),
        ]
        for number, (name, step) in enumerate(steps, 1):
            if self.progress:
                print(f"  measuring {name} ({number}/{len(steps)})", file=sys.stderr)
            step()


def _shape(inst: Instance) -> str:
    side = math.isqrt(inst.frame_bytes // 2)
    return f"{side}x{side}" if side * side * 2 == inst.frame_bytes else "CT"


# --------------------------------------------------------------------------- report


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "failed"
    digits = 1 if value >= 10 else 2 if value >= 1 else 3
    return f"{value:.{digits}f} {unit}"


def table(figures: Iterable[Figure]) -> str:
    """Format the figures as a plain-text table."""
    head = ("figure", "workbench", "Orthanc", "ratio", "goal", "met?")
    rows = [head]
    for f in figures:
        ratio = f.ratio()
        met = f.met()
        rows.append((f.label, _value(f.values.get("workbench"), f.unit),
                     _value(f.values.get("Orthanc"), f.unit),
                     "-" if ratio is None else f"{ratio:.2f}x", f">= {f.goal:g}x",
                     "-" if met is None else "yes" if met else "NO"))
    widths = [max(len(r[c]) for r in rows) for c in range(len(head))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [row[c].rjust(widths[c])
                                             for c in range(1, len(row))]
        lines.append(" | ".join(cells))
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def report(peers: Sequence[Peer], corpus: Corpus, plan: Plan, figures: Sequence[Figure],
           seconds: float, load: tuple[float, float]) -> str:
    """The whole text printed at the end of a run."""
    orthanc = next((p for p in peers if p.name == "Orthanc"), None)
    ours = next((p for p in peers if p.name == "workbench"), None)
    n_big = len(corpus.big_series[0]) if corpus.large else 0
    lines = [
        "workbench vs Orthanc: the same seeded data through the same client, on loopback",
        "ratio = how many times better workbench is: throughput ours/Orthanc's, latency "
        "Orthanc's/ours; > 1 means workbench is better.",
        f"data: {plan.n_studies} studies x {plan.n_slices} slices of {_shape(corpus.large[0])} "
        f"CT ({corpus.nbytes / 1e6:.0f} MB, benchmark_ct_studies seed {plan.seed}) + "
        f"{len(corpus.small)} single-instance {SMALL_SIZE}x{SMALL_SIZE} studies; "
        f"{corpus.n_studies} studies in all; {n_big}-instance series for the series figures",
        f"STOW: median instances/s of up to {plan.rounds} rounds per line (requests of 1 or 10 "
        "instances, 1 or 4 clients with their own HTTP session); reads: p50/p95 over "
        "alternating requests after one untimed warm-up each; MB = 10^6 bytes",
        "durability: workbench fdatasyncs each request's files and fsyncs their folder before "
        "answering, commits its SQLite index (WAL, synchronous=NORMAL) without a sync and "
        "re-indexes unreferenced blobs at start; Orthanc (SyncStorageArea=true, its default) "
        "fdatasyncs each file but not the folder, and its SQLite index (WAL, "
        "synchronous=NORMAL) does not sync at commit",
    ]
    if ours is not None:
        lines.append(f"workbench: {ours.version}; " + "; ".join(
            f"{k}: {v}" for k, v in ours.settings.items()))
    if orthanc is not None:
        lines.append(f"Orthanc: {orthanc.version}; " + ", ".join(
            f"{k}={v}" for k, v in orthanc.settings.items()))
    lines.append(f"machine: {platform.machine()}, {_cpus()} CPUs, Python "
                 f"{platform.python_version()}; run took {seconds:.0f} s; 1-minute load average "
                 f"{load[0]:.1f} at the start, {load[1]:.1f} at the end (anything else running "
                 "disturbs the figures)")
    lines += ["", table(figures)]
    failures = [(f.label, name, text) for f in figures for name, text in f.errors.items()]
    if failures:
        lines += ["", "errors:"]
        lines += [f"  [{name}] {label}: {text}" for label, name, text in failures]
    return "\n".join(lines)


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description="Benchmark the workbench archive against Orthanc (DICOMweb plugin) on "
                    "loopback: STOW-RS, QIDO-RS, metadata, WADO-RS, frames, rendered. "
                    "Needs Debian's orthanc and orthanc-dicomweb packages (`make bench` "
                    "installs them).")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run of 1-2 minutes: 2 x 100 slices, 250 small studies, "
                             "fewer repetitions")
    parser.add_argument("--studies", type=int, help="large CT studies (default 4; quick 2)")
    parser.add_argument("--slices", type=int,
                        help="512x512 slices per large study (default 250; quick 100)")
    parser.add_argument("--small-studies", type=int,
                        help="single-instance 64x64 studies for the study search "
                             "(default 1000; quick 250)")
    parser.add_argument("--seed", type=int, default=1000, help="data set seed (default 1000)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="timed STOW rounds per line, median reported (default 3)")
    parser.add_argument("--budget", type=float,
                        help="seconds at most per read figure, both servers together "
                             "(default 45; quick 6)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write figures as JSON")
    parser.add_argument("--orthanc", help="Orthanc binary (default: Debian's /usr/sbin/Orthanc)")
    parser.add_argument("--dicomweb-plugin", help="libOrthancDicomWeb.so (default: Debian's)")
    parser.add_argument("--orthanc-find-access", choices=("Always", "Answers", "Never"),
                        default="Always",
                        help="Orthanc's StorageAccessOnFind (default Always, its default)")
    parser.add_argument("--workdir", type=Path,
                        help="parent of the temporary storage folders (default: system temp)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folders (storage, logs, Orthanc config)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    for name in ("studies", "slices", "small_studies", "rounds"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def make_plan(args: argparse.Namespace) -> Plan:
    """Sizes and repetitions from the options (``--quick`` changes the defaults only)."""
    quick = bool(args.quick)
    return Plan(
        n_studies=args.studies or (2 if quick else 4),
        n_slices=args.slices or (100 if quick else 250),
        n_small=args.small_studies if args.small_studies is not None else (
            250 if quick else 1000),
        seed=args.seed,
        rounds=args.rounds,
        budget_s=args.budget if args.budget is not None else (6.0 if quick else 45.0),
        reps=dict(QUICK_REPS if quick else FULL_REPS),
    )


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit status (1 when a server failed a check)."""
    args = parse_args(argv)
    plan = make_plan(args)
    progress = not args.no_progress
    signal.signal(signal.SIGTERM, _terminate)
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    print(f"generating the data set ({plan.n_studies} x {plan.n_slices} slices, "
          f"{plan.n_small} small studies, seed {plan.seed}) ...", file=sys.stderr)
    corpus = build_corpus(plan.n_studies, plan.n_slices, plan.n_small, plan.seed, progress)
    print(f"  {len(corpus.large) + len(corpus.small)} instances, "
          f"{corpus.nbytes / 1e6:.0f} MB, in {corpus.seconds:.0f} s", file=sys.stderr)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="wb-bench-", dir=args.workdir))
    try:
        with ExitStack() as stack:
            peers = [
                stack.enter_context(start_workbench(root / "workbench", REPO)),
                stack.enter_context(start_orthanc(
                    root / "orthanc", binary=args.orthanc, plugin=args.dicomweb_plugin,
                    find_access=args.orthanc_find_access, metadata="Full")),
            ]
            for peer in peers:
                print(f"  {peer.name}: {peer.dicomweb} ({peer.version})", file=sys.stderr)
            bench = Bench(peers, corpus, plan, progress)
            bench.load()
            bench.measure_reads()
        seconds = time.perf_counter() - started
        load = (load_start, os.getloadavg()[0])
    except PeerError as exc:
        print(f"cannot run the benchmark: {exc}", file=sys.stderr)
        return 2
    except RequestFailed as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; both servers stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(report(peers, corpus, plan, bench.figures, seconds, load))
    if args.json is not None:
        args.json.write_text(json.dumps({
            "plan": {"studies": plan.n_studies, "slices": plan.n_slices,
                     "small_studies": plan.n_small, "seed": plan.seed, "rounds": plan.rounds,
                     "budget_s": plan.budget_s, "reps": plan.reps},
            "peers": [{"name": p.name, "version": p.version, "settings": dict(p.settings)}
                      for p in peers],
            "seconds": seconds,
            "load_average_1min": {"start": load[0], "end": load[1]},
            "figures": [f.as_json() for f in bench.figures],
        }, indent=2) + "\n")
    return 1 if any(f.errors for f in bench.figures) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)

"""The reading viewer in headless Chromium against our archive on loopback.

Not a test: it prints a table of figures against the goals of the viewer issue, with
the server-rendered PNG path (``.../frames/N/rendered``) as the baseline and the ratio.

1. Generates a seeded study (:mod:`workbench.demo`): a 2-slice scout (series 1, shown
   when the study opens), a ``--slices``-slice 512 x 512 CT (series 2) and two XA cine
   runs of 512 x 512 at 30 and 60 frames per second (series 3 and 4).
2. Starts ``workbench serve --workers 1`` (the product's command; one worker because a
   Panel page's WebSocket must reach the process that made the page) with a fresh data
   folder, makes a practice and its reader as people do (sign-up, e-mail link, staff
   activation: ``tests/server/people.py``), and stores the study through STOW-RS.
3. Drives Debian's Chromium (Playwright, ``--use-angle=swiftshader``: WebGL2 on the CPU,
   as the browser tests use it), logged in with the reader's session cookie, and
   measures in the page (``performance.now()``):

   * first image: from the click on the CT's series card to the viewport's first drawn
     slice (a fresh browser context each run, so nothing is cached);
   * scrolling: one wheel step per animation frame through every slice once they are
     all loaded, the next step only after the previous slice was drawn;
   * window/level: pointer moves of a left-button drag, one per animation frame, each
     waiting for the new window to be drawn, for ``--seconds`` seconds;
   * cine: frames shown vs the acquisition clock over ``--seconds`` seconds of playback;
   * the baseline: the same scroll and window/level done the way a server-rendered viewer
     does them, each step fetching ``/rendered`` (PNG, ``window=`` for window/level) and
     drawing it on a canvas before the next.

Run: ``.venv/bin/python benchmarks/viewer.py [--slices 300] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks._peers import _process, _wait_ready, free_port  # noqa: E402
from tests.server.people import active_practice, login  # noqa: E402
from workbench.demo import DEMO_PATIENTS, ct_series, xa_cine  # noqa: E402
from workbench.dicomweb.multipart_writer import (  # noqa: E402
    multipart_chunks,
    multipart_content_type,
    new_boundary,
)
from workbench.viewer.series import describe_series  # noqa: E402

STUDY = "2.25.880001"
CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox"]

# Everything below runs in the page. Panel components live in shadow roots.
DEEP = """
window.__deep = (selector, root = document) => {
  const found = [...root.querySelectorAll(selector)];
  for (const el of root.querySelectorAll("*")) {
    if (el.shadowRoot) found.push(...window.__deep(selector, el.shadowRoot));
  }
  return found;
};
"""

WATCH_FIRST_IMAGE = """(count) => {
  const old = new Set(window.__deep(".wb-viewport"));
  window.__t0 = null; window.__t1 = null;
  window.addEventListener("pointerdown", () => {
    if (window.__t0 === null) window.__t0 = performance.now();
  }, {capture: true, once: true});
  const poll = () => {
    const fresh = window.__deep(".wb-viewport").find((v) => !old.has(v)
      && v.dataset.count === String(count) && v.dataset.drawn === "0");
    if (fresh) { window.__t1 = performance.now(); return; }
    requestAnimationFrame(poll);
  };
  requestAnimationFrame(poll);
}"""

DISPLAY_RATE = """() => new Promise((resolve) => {
  let frames = 0; const t0 = performance.now();
  const tick = (now) => {
    frames++;
    if (now - t0 < 1000) requestAnimationFrame(tick); else resolve(frames * 1000 / (now - t0));
  };
  requestAnimationFrame(tick);
})"""

SCROLL = """(root) => new Promise((resolve) => {
  const n = Number(root.dataset.count);
  root.dispatchEvent(new KeyboardEvent("keydown", {key: "Home", bubbles: true, cancelable: true}));
  const box = root.getBoundingClientRect();
  const at = {clientX: box.left + box.width / 2, clientY: box.top + box.height / 2};
  let target = 0, t0 = null, draws = [];
  const step = () => {
    if (root.dataset.drawn === String(target)) {
      if (target === 0) t0 = performance.now(); else draws.push(Number(root.dataset.drawMs));
      if (target === n - 1) {
        const ms = performance.now() - t0;
        resolve({slices: n - 1, ms, drawMs: draws.reduce((a, b) => a + b, 0) / draws.length});
        return;
      }
      target++;
      root.dispatchEvent(new WheelEvent("wheel",
                                        {deltaY: 100, bubbles: true, cancelable: true, ...at}));
    }
    requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
})"""

WINDOW_DRAG = """([root, seconds]) => new Promise((resolve) => {
  const box = root.getBoundingClientRect();
  const x0 = box.left + box.width / 2, y0 = box.top + box.height / 2;
  let moves = 0, shown = 0, last = root.dataset.wl, t0 = performance.now();
  const step = (now) => {
    if (root.dataset.wl !== last) { shown++; last = root.dataset.wl; }
    if (now - t0 >= seconds * 1000) { resolve({updates: shown, ms: now - t0, moves}); return; }
    if (moves === shown) {
      moves++;
      const dx = (moves % 200) * 2, dy = (moves % 200);
      root.dispatchEvent(new PointerEvent("pointermove",
        {clientX: x0 + dx, clientY: y0 + dy, bubbles: true, pointerId: 1}));
    }
    requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
})"""

RENDERED = """async ([urls, seconds, width, height]) => {
  // a canvas of the viewport's size, the image fitted into it as the viewer does
  const canvas = document.createElement("canvas");
  canvas.width = width; canvas.height = height;
  canvas.style.cssText = `position: fixed; left: 0; top: 0; width: ${width / devicePixelRatio}px;
                          height: ${height / devicePixelRatio}px`;
  document.body.appendChild(canvas);
  const context = canvas.getContext("2d");
  const show = async (url) => {
    const response = await fetch(url, {headers: {Accept: "image/png"}, credentials: "same-origin"});
    if (!response.ok) throw new Error(`HTTP ${response.status} for ${url}`);
    const bitmap = await createImageBitmap(await response.blob());
    const fit = Math.min(width / bitmap.width, height / bitmap.height);
    context.fillRect(0, 0, width, height);
    context.drawImage(bitmap, (width - bitmap.width * fit) / 2, (height - bitmap.height * fit) / 2,
                      bitmap.width * fit, bitmap.height * fit);
    await new Promise((r) => requestAnimationFrame(r));
  };
  let t0 = performance.now();
  await show(urls[0] + "/rendered");
  const first = performance.now() - t0;
  t0 = performance.now();
  for (const url of urls.slice(1)) await show(url + "/rendered");
  const scroll = {slices: urls.length - 1, ms: performance.now() - t0};
  t0 = performance.now();
  let updates = 0;
  const middle = urls[Math.floor(urls.length / 2)];
  while (performance.now() - t0 < seconds * 1000) {
    updates++;
    await show(`${middle}/rendered?window=${40 + updates},${400 + 2 * updates},linear`);
  }
  canvas.remove();
  return {first, scroll, window: {updates, ms: performance.now() - t0}};
}"""


@dataclass
class Figure:
    """One line of the table."""

    name: str
    ours: float | None
    baseline: float | None
    unit: str
    goal: str
    met: bool | None
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        if not self.ours or not self.baseline:
            return None
        return self.ours / self.baseline if self.higher_is_better else self.baseline / self.ours


def _stow(url: str, headers: dict[str, str], datasets: Sequence[Any], batch: int = 20) -> None:
    from io import BytesIO

    from pydicom import dcmwrite

    with httpx.Client(timeout=300, headers=headers) as client:
        for start in range(0, len(datasets), batch):
            parts = []
            for ds in datasets[start:start + batch]:
                buffer = BytesIO()
                dcmwrite(buffer, ds, enforce_file_format=True)
                parts.append(({"Content-Type": "application/dicom"}, buffer.getvalue()))
            boundary = new_boundary()
            r = client.post(f"{url}/dicom-web/studies", content=b"".join(
                multipart_chunks(parts, boundary)), headers={
                "Content-Type": multipart_content_type(boundary, "application/dicom")})
            if r.status_code != 200:
                raise RuntimeError(f"STOW-RS answered {r.status_code}: {r.text[:300]}")


def make_study(slices: int, seed: int) -> dict[str, Any]:
    """The scout, the CT and the two cine runs, in one study."""
    patient = DEMO_PATIENTS[0]
    common = {"study_uid": STUDY, "accession": "BENCH-VIEW", "study_description": "VIEWER BENCH"}
    return {
        "scout": ct_series(patient, seed=seed, n_slices=2, rows=64, columns=64, series_number=1,
                           description="SCOUT", **common),
        "ct": ct_series(patient, seed=seed + 1, n_slices=slices, rows=512, columns=512,
                        series_number=2, description="CT BENCH", **common),
        "cine30": [xa_cine(patient, seed=seed + 2, n_frames=60, frame_rate=30.0,
                           series_number=3, description="XA 30 FPS", **common)],
        "cine60": [xa_cine(patient, seed=seed + 3, n_frames=120, frame_rate=60.0,
                           series_number=4, description="XA 60 FPS", **common)],
    }


@contextmanager
def archive(folder: Path) -> Iterator[SimpleNamespace]:
    """``workbench serve --workers 1`` on a free loopback port."""
    port = free_port()
    token = secrets.token_urlsafe(24)
    env = dict(os.environ, WORKBENCH_DATA_DIR=str(folder / "data"), WORKBENCH_ADMIN_TOKEN=token,
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    argv = [sys.executable, "-m", "workbench.cli", "serve", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1"]
    url = f"http://127.0.0.1:{port}"
    with _process(argv, env=env, log=folder / "server.log", cwd=REPO) as proc:
        _wait_ready(proc, url + "/healthz", {}, folder / "server.log", "workbench")
        yield SimpleNamespace(url=url, token=token, data_dir=folder / "data",
                              dicomweb=url + "/dicom-web")


def _wait(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def open_page(browser: Any, url: str, cookie: str) -> Any:
    """A fresh context (empty cache) on the study, logged in with the session cookie."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_cookies([{"name": "wb_session", "value": cookie, "url": url}])
    context.add_init_script(DEEP)
    page = context.new_page()
    page.goto(f"{url}/")
    try:
        page.locator(".wb-row", has_text="BENCH-VIEW").click(timeout=120_000)
        page.locator(".wb-card", has_text="CT BENCH").wait_for(timeout=120_000)
        _wait(lambda: page.locator(".wb-viewport").count() and
              page.locator(".wb-viewport").first.get_attribute("data-drawn") == "0",
              120, "the scout drawn")
    except Exception:
        shot = Path(tempfile.gettempdir()) / "wb-viewer-bench-failure.png"
        page.screenshot(path=shot)
        print(f"the study did not open; screenshot: {shot}", file=sys.stderr)
        raise
    return page


def open_series(page: Any, card: str, count: int) -> Any:
    """Click a series card; return the new viewport once it shows slice 1, and the ms."""
    page.evaluate(WATCH_FIRST_IMAGE, count)
    page.locator(".wb-card", has_text=card).click()
    _wait(lambda: page.evaluate("window.__t1"), 120, f"{card} drawn")
    ms = float(page.evaluate("window.__t1 - window.__t0"))
    view = page.locator(f".wb-viewport[data-count='{count}']").first
    return view, ms


def measure(args: argparse.Namespace, folder: Path) -> tuple[list[Figure], dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    study = make_study(args.slices, args.seed)
    chromium = os.environ.get("WORKBENCH_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        raise RuntimeError("no chromium executable (apt-get install chromium, or set "
                           "WORKBENCH_CHROMIUM)")
    details: dict[str, Any] = {}
    with archive(folder) as server:
        reader = active_practice(server, "reader@bench.example")  # type: ignore[arg-type]
        started = time.perf_counter()
        for key in ("scout", "ct", "cine30", "cine60"):
            _stow(server.url, reader.headers, study[key])
        details["stow_s"] = round(time.perf_counter() - started, 1)
        session = login(server, reader.email)  # type: ignore[arg-type]
        cookie = session.cookies["wb_session"]
        ct_uid = str(study["ct"][0].SeriesInstanceUID)
        with httpx.Client(headers=reader.headers, timeout=120) as client:
            metadata = client.get(f"{server.dicomweb}/studies/{STUDY}/series/{ct_uid}/metadata")
        display = describe_series(metadata.json())
        urls = [display.frame_url(k) for k in range(len(display.frames))]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            firsts = []
            for _ in range(args.runs):
                page = open_page(browser, server.url, cookie)
                view, ms = open_series(page, "CT BENCH", args.slices)
                firsts.append(ms)
                page.context.close()
            page = open_page(browser, server.url, cookie)
            details["display_hz"] = round(float(page.evaluate(DISPLAY_RATE)), 1)
            view, ms = open_series(page, "CT BENCH", args.slices)
            t0 = time.perf_counter()
            _wait(lambda: view.get_attribute("data-loaded") == str(args.slices), 600,
                  "every slice loaded")
            details["all_slices_loaded_s"] = round(time.perf_counter() - t0 + ms / 1000, 2)
            details["renderer"] = view.get_attribute("data-renderer")
            scroll = view.evaluate(SCROLL)
            box = view.bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            drag = page.evaluate(WINDOW_DRAG, [view.element_handle(), args.seconds])
            page.mouse.up()
            size = view.locator("canvas.wb-image").evaluate("c => [c.width, c.height]")
            details["canvas"] = size
            rendered = page.evaluate(RENDERED, [urls, args.seconds, *size])
            cine = {fps: play(page, f"XA {fps} FPS", frames, args.seconds)
                    for fps, frames in ((30, 60), (60, 120))}
            browser.close()
    details.update(first_image_ms=[round(v, 1) for v in firsts], scroll=scroll,
                   window=drag, rendered=rendered, cine=cine)
    first = statistics.median(firsts)
    ours_scroll = scroll["slices"] / scroll["ms"] * 1000
    base_scroll = rendered["scroll"]["slices"] / rendered["scroll"]["ms"] * 1000
    ours_wl = drag["updates"] / drag["ms"] * 1000
    base_wl = rendered["window"]["updates"] / rendered["window"]["ms"] * 1000
    figures = [
        Figure("first image (ms, median)", first, rendered["first"], "ms", "< 300 ms",
               first < 300, higher_is_better=False),
        Figure(f"scroll through {args.slices} slices", ours_scroll, base_scroll, "fps",
               ">= 60 fps", ours_scroll >= 60),
        Figure("window/level updates", ours_wl, base_wl, "/s", ">= 60 /s", ours_wl >= 60),
    ]
    for fps, result in cine.items():
        share = result["shown"] / result["expected"] if result["expected"] else 0.0
        figures.append(Figure(f"cine {fps} fps: frames shown / expected", share * 100, None,
                              "%", "100 %, 0 dropped", result["dropped"] == 0
                              and result["late"] == 0))
    return figures, details


def play(page: Any, card: str, frames: int, seconds: float) -> dict[str, Any]:
    """Play a loop for `seconds` once every frame is loaded; the player's counters."""
    view, _ = open_series(page, card, frames)
    _wait(lambda: view.get_attribute("data-loaded") == str(frames), 300, f"{card} loaded")
    button = page.get_by_role("button", name="\u25b6 Play / \u275a\u275a")
    button.click()
    _wait(lambda: int(view.get_attribute("data-played-ms") or 0) >= seconds * 1000,
          seconds * 4 + 60, f"{card} played")
    state = view.evaluate("e => ({...e.dataset})")
    button.click()
    played = int(state["playedMs"])
    fps = float(card.split()[1])
    expected = int(played * fps / 1000) + 1
    return {"played_ms": played, "expected": expected, "shown": int(state["shown"]),
            "dropped": int(state["dropped"]), "late": int(state["late"])}


def table(figures: Sequence[Figure]) -> str:
    def value(v: float | None, unit: str) -> str:
        return "-" if v is None else f"{v:.1f} {unit}"

    lines = ["| figure | workbench (WebGL2) | server-rendered PNG | ratio | goal | met? |",
             "|---|---:|---:|---:|---:|:---:|"]
    for f in figures:
        ratio = "-" if f.ratio is None else f"{f.ratio:.2f}x"
        met = "-" if f.met is None else ("yes" if f.met else "NO")
        lines.append(f"| {f.name} | {value(f.ours, f.unit)} | {value(f.baseline, f.unit)} | "
                     f"{ratio} | {f.goal} | {met} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=300, help="CT slices (512 x 512)")
    parser.add_argument("--runs", type=int, default=3, help="first-image repetitions")
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="seconds of window/level dragging and of each cine playback")
    parser.add_argument("--seed", type=int, default=4100)
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="wb-viewer-bench-"))
    load = os.getloadavg()[0]
    try:
        figures, details = measure(args, folder)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(table(figures))
    print(f"\nrenderer {details['renderer']}, display {details['display_hz']} Hz (headless), "
          f"all {args.slices} slices loaded {details['all_slices_loaded_s']} s after the click, "
          f"mean draw {details['scroll']['drawMs']:.1f} ms, STOW of the study "
          f"{details['stow_s']} s; load average {load:.2f} at the start, "
          f"{os.getloadavg()[0]:.2f} at the end")
    for fps, result in details["cine"].items():
        print(f"cine {fps} fps: {result}")
    if args.json:
        args.json.write_text(json.dumps({"figures": [asdict(f) | {"ratio": f.ratio}
                                                     for f in figures],
                                         "details": details}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

// The image viewport: pixels fetched from WADO-RS by the browser, windowed on the GPU.
// Scrolling, window/level, zoom, pan and cine playback run here without waiting for
// Python; the model's parameters follow (index, window_center, window_width, zoom, ...).
// Display indices are zero-based into series.frames; the archive's frame numbers are
// one-based. Text from DICOM headers is put into the page with textContent only.
// `orientation` other than "acquired" shows a plane cut from the loaded stack (mpr.js);
// `index` then counts that plane's images. A kernel series (a notebook's own array) is
// fetched from Python with model.send_msg instead of WADO-RS (kernel.js).

const BATCH = 16;          // frames of one instance per request
const PARALLEL = 4;        // requests in flight
const SCALE_BARS_MM = [1, 2, 5, 10, 20, 50, 100, 200, 500];

function element(tag, className, parent) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (parent) parent.appendChild(node);
  return node;
}

function setLines(node, lines) {
  node.replaceChildren(...lines.filter((t) => t).map((t) => {
    const line = document.createElement("div");
    line.textContent = t;
    return line;
  }));
}

function round(value) {
  return Math.abs(value) >= 100 ? Math.round(value) : Math.round(value * 100) / 100;
}

class Viewport {
  constructor(model, el) {
    this.model = model;
    this.root = element("div", "wb-viewport", el);
    this.root.tabIndex = 0;
    this.canvas = element("canvas", "wb-image", this.root);
    this.corners = {};
    for (const corner of ["tl", "tr", "bl", "br"]) this.corners[corner] = element("div", "wb-corner wb-" + corner, this.root);
    this.marks = {};
    for (const side of ["left", "right", "top", "bottom"]) this.marks[side] = element("div", "wb-marker wb-marker-" + side, this.root);
    this.cross = element("div", "wb-cross", this.root);
    this.cross.hidden = true;
    this.scaleBar = element("div", "wb-scalebar", this.root);
    this.scaleLabel = element("span", "", this.scaleBar);
    this.slider = element("input", "wb-slider", this.root);
    this.slider.type = "range";
    this.slider.min = 0;
    this.slider.setAttribute("aria-label", "image");
    this.status = element("div", "wb-status", this.root);
    this.cache = new Map();
    this.pending = new Set();
    this.controller = null;
    this.renderer = null;
    this.drawQueued = false;
    this.pointer = null;
    this.cursor = null;
    this.wheelRest = 0;
    this.syncTimer = null;
    this.shown = 0;
    this.local = {};
    this.current = model.index;
    this.makeRenderer();
    this.bind();
    this.attachHanging();
    this.attachAnnotations();
    this.attachVolume();      // the volume tool's mask (volume_tool.js)
    this.setSeries();
    new ResizeObserver(() => this.resize()).observe(this.root);
  }

  makeRenderer() {
    const m = this.model;
    try {
      if (m.force_canvas2d) throw new Error("Canvas2D asked for");
      this.renderer = new GlRenderer(this.canvas, m.vertex_source, m.fragment_source);
    } catch (error) {
      const canvas = element("canvas", "wb-image");
      this.root.replaceChild(canvas, this.canvas);
      this.canvas = canvas;
      this.renderer = new CanvasRenderer(canvas);
    }
    this.root.dataset.renderer = this.renderer.name;
    this.root.dataset.tool = this.model.tool;
    this.model.renderer = this.renderer.name;
  }

  get series() { return this.model.series || {}; }

  // A value being dragged is ahead of the model until it is synced (see set()).
  get(name) { return name in this.local ? this.local[name] : this.model[name]; }

  set(name, value) {
    this.local[name] = value;
    if (!this.syncTimer) this.syncTimer = setTimeout(() => this.flush(), 150);
    this.requestDraw();
    this.shareValue(name, value);
  }

  flush() {
    clearTimeout(this.syncTimer);
    this.syncTimer = null;
    const values = this.local;
    this.local = {};
    for (const [name, value] of Object.entries(values)) this.model[name] = value;
  }
  get frames() { return this.series.frames || []; }

  // The reformatted plane shown, or null for the acquired images.
  get plane() {
    const o = this.model.orientation;
    return (o && o !== "acquired" && (this.series.planes || {})[o]) || null;
  }

  count() { const p = this.plane; return p ? p.shape[0] : this.frames.length; }

  // Rescale and location of displayed image `index` (a plane's images hold modality values).
  info(index) {
    const p = this.plane;
    if (!p) return this.frames[index];
    return index >= 0 && index < p.shape[0]
      ? {f: 0, slope: 1, intercept: 0, location: p.first + index * p.step} : undefined;
  }

  image(index) { return this.plane ? this.reformatted(index) : this.cache.get(index); }

  // [mm between rows, mm between columns, source] of the displayed images.
  spacing() {
    const s = this.series.spacing || [1, 1, ""], p = this.plane;
    return p ? [p.spacing[1], p.spacing[2], s[2]] : s;
  }

  // Count, slider and orientation letters of the displayed images.
  arrange() {
    const n = this.count();
    this.root.dataset.count = String(n);
    this.root.dataset.orientation = this.plane ? this.model.orientation : "acquired";
    this.slider.max = Math.max(0, n - 1);
    this.slider.hidden = n < 2;
    const marks = (this.plane || this.series).markers || {};
    for (const side of Object.keys(this.marks)) this.marks[side].textContent = marks[side] || "";
  }

  // -- loading ---------------------------------------------------------------------------
  setSeries() {
    if (this.controller) this.controller.abort();
    this.controller = new AbortController();
    this.cache.clear();
    this.pending.clear();
    this.retries = 0;
    this.shown = 0;
    this.mpr = null;
    this.root.dataset.loaded = "0";
    this.arrange();
    const s = this.series;
    setLines(this.corners.tl, (s.overlay || {}).top_left || []);
    setLines(this.corners.tr, (s.overlay || {}).top_right || []);
    this.pump();
    this.requestDraw();
  }

  batchFrom(index) {
    // Consecutive display frames of one instance go in one request.
    const frames = this.frames, first = frames[index];
    const base = first.url.slice(0, first.url.lastIndexOf("/") + 1);
    const batch = [index];
    for (let k = index + 1; k < frames.length && batch.length < BATCH; k++) {
      const url = frames[k].url;
      if (this.cache.has(k) || this.pending.has(k) || url.slice(0, url.lastIndexOf("/") + 1) !== base) break;
      batch.push(k);
    }
    return {base, batch};
  }

  nextMissing() {
    const n = this.frames.length, at = this.plane ? Math.floor(n / 2) : this.current;
    for (let d = 0; d < n; d++) {
      for (const k of [at + d, at - d]) {
        if (k >= 0 && k < n && !this.cache.has(k) && !this.pending.has(k)) return k;
      }
    }
    return -1;
  }

  pump() {
    if (this.series.kernel) { this.pumpKernel(); return; }
    const signal = this.controller.signal;
    while (this.pending.size < PARALLEL * BATCH) {
      const index = this.nextMissing();
      if (index < 0) return;
      const fmt = this.series.formats[this.frames[index].f];
      if (!fmt.native) {
        this.pending.add(index);
        fetchRendered(this.frames[index].url, this.model.headers, signal)
          .then((frame) => this.arrived([index], [frame]), (error) => this.failed([index], error));
        continue;
      }
      const {base, batch} = this.batchFrom(index);
      batch.forEach((k) => this.pending.add(k));
      const numbers = batch.map((k) => this.frames[k].url.slice(base.length));
      fetchFrames(base, numbers, this.model.headers, signal).then(
        (bodies) => this.arrived(batch, bodies.map((body, i) => decodeFrame(body, this.series.formats[this.frames[batch[i]].f]))),
        (error) => this.failed(batch, error));
      if (this.pending.size >= PARALLEL * BATCH || batch.length === 1 && this.pending.size >= PARALLEL) return;
    }
  }

  arrived(batch, decoded) {
    batch.forEach((k, i) => { this.pending.delete(k); this.cache.set(k, decoded[i]); });
    this.root.dataset.loaded = String(this.cache.size);
    if (this.cache.size === this.frames.length || this.cache.size % 16 === 0) this.model.loaded = this.cache.size;
    if (this.get("window_width") == null && this.image(this.current)) this.autoWindow();
    if (this.plane || batch.includes(this.current) || !this.frameShown) this.requestDraw();
    this.pump();
  }

  failed(batch, error) {
    batch.forEach((k) => this.pending.delete(k));
    if (error.name === "AbortError") return;
    this.status.textContent = "Could not load images: " + error.message;
    this.model.error = String(error.message);
    // A transient failure (a busy server, a dropped connection) would leave the frames
    // missing until something else asks for more: try again, a few times, later.
    const controller = this.controller;
    this.retries = (this.retries || 0) + 1;
    if (this.retries <= 3) {
      setTimeout(() => { if (controller === this.controller) this.pump(); }, 1000 * this.retries);
    }
  }

  autoWindow() {
    const f = this.info(this.current);
    const [center, width] = autoWindow(this.image(this.current), f.slope, f.intercept);
    this.model.window_center = round(center);
    this.model.window_width = Math.max(1, round(width));
  }

  // -- drawing ---------------------------------------------------------------------------
  resize() {
    const ratio = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.root.clientWidth * ratio));
    const h = Math.max(1, Math.round(this.root.clientHeight * ratio));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    this.requestDraw();
  }

  requestDraw() {
    if (this.drawQueued) return;
    this.drawQueued = true;
    requestAnimationFrame(() => { this.drawQueued = false; this.draw(); });
  }

  // Clip-space half sizes of the image: fitted with its physical aspect ratio, then zoomed.
  placement(frame) {
    const [rowMm, colMm] = this.spacing();
    const width = frame.columns * colMm, height = frame.rows * rowMm;
    const cw = this.canvas.width, ch = this.canvas.height;
    const fit = Math.min(cw / width, ch / height);
    const z = this.get("zoom") || 1;
    return {scale: [width * fit * z / cw, height * fit * z / ch],
            offset: [this.get("pan_x") || 0, this.get("pan_y") || 0],
            mmPerCanvasPixel: 1 / (fit * z)};
  }

  draw() {
    const started = performance.now();
    const m = this.model, index = this.current, info = this.info(index);
    const frame = this.image(index);
    const fmt = info ? this.series.formats[info.f] : null;
    const monochrome1 = fmt && fmt.photometric === "MONOCHROME1";
    let view = null;
    if (frame) {
      const p = this.placement(frame);
      view = {slope: info.slope, intercept: info.intercept,
              center: this.get("window_center") ?? 127.5, width: this.get("window_width") ?? 256,
              fn: m.voi_function || "LINEAR",
              invert: Boolean(m.invert) !== Boolean(monochrome1), scale: p.scale,
              offset: p.offset, smooth: m.smooth};
      this.mmPerPixel = p.mmPerCanvasPixel;
      // Drawn size in canvas pixels (the image's physical aspect ratio at zoom 1).
      this.root.dataset.imageSize = `${Math.round(p.scale[0] * this.canvas.width)}x${Math.round(p.scale[1] * this.canvas.height)}`;
    }
    this.renderer.draw(frame || null, view);
    this.frameShown = Boolean(frame);
    this.root.dataset.drawMs = (performance.now() - started).toFixed(1);
    this.root.dataset.index = String(index);
    this.root.dataset.drawn = frame ? String(index) : "";
    this.slider.value = index;
    this.texts(frame, info);
    this.placeCross(frame);
    this.markKey(frame);
    this.renderAnnotations(frame);
    this.renderMask(frame);
  }

  // The selected point (model.selected = [index, row, col] of the displayed images).
  placeCross(frame) {
    const sel = this.model.selected || [];
    const show = frame && sel.length === 3 && sel[0] === this.current;
    this.cross.hidden = !show;
    if (!show) return;
    const p = this.placement(frame);
    const x = p.offset[0] + (2 * (sel[2] + 0.5) / frame.columns - 1) * p.scale[0];
    const y = p.offset[1] + (1 - 2 * (sel[1] + 0.5) / frame.rows) * p.scale[1];
    this.cross.style.left = `${(x + 1) / 2 * this.root.clientWidth}px`;
    this.cross.style.top = `${(1 - y) / 2 * this.root.clientHeight}px`;
  }

  texts(frame, info) {
    const m = this.model, s = this.series, n = this.count();
    const center = this.get("window_center"), width = this.get("window_width");
    const unitsLabel = s.units ? " " + s.units : "";
    const native = frame && frame.kind !== "bitmap";
    const wl = native && width != null
      ? `W ${round(width)} L ${round(center)}${m.invert ? " (inverted)" : ""}` : "";
    const lines = [n ? `Im ${this.current + 1}/${n}` : "", wl, `Zoom ${round(this.get("zoom") || 1)}x`];
    if (this.cursor && frame && frame.kind === "grey" && this.cursor.row < frame.rows
        && this.cursor.col < frame.columns) {
      const {row, col} = this.cursor;
      const value = frame.values[row * frame.columns + col] * info.slope + info.intercept;
      lines.push(`(${col}, ${row}): ${round(value)}${unitsLabel}`);
    }
    if (frame && !native) lines.push("rendered by the archive");
    if (this.plane) lines.push(this.model.orientation[0].toUpperCase() + this.model.orientation.slice(1));
    setLines(this.corners.bl, lines);
    this.root.dataset.wl = wl;
    const [rowMm, colMm, source] = this.spacing();
    const right = [];
    if (info && info.location != null) right.push(`Loc ${round(info.location)} mm`);
    if (s.thickness) right.push(`Thk ${round(s.thickness)} mm`);
    right.push(source ? `Pixel ${round(rowMm)} x ${round(colMm)} mm (${source})` : "Uncalibrated: pixels");
    if (s.frameTimes && s.frameTimes.length > 1) {
      const step = (s.frameTimes[s.frameTimes.length - 1] - s.frameTimes[0]) / (s.frameTimes.length - 1);
      right.push(`${round(1000 / step)} fps${m.playing ? " playing" : ""}`);
    }
    setLines(this.corners.br, right);
    this.scaleBar.hidden = !(frame && source);
    if (frame && source) {
      const canvasPx = this.canvas.width / (window.devicePixelRatio || 1);
      const mmPerCss = this.mmPerPixel * (window.devicePixelRatio || 1);
      const target = canvasPx * 0.2 * mmPerCss;
      const mm = SCALE_BARS_MM.filter((v) => v <= target).pop() || SCALE_BARS_MM[0];
      this.scaleBar.style.width = `${mm / mmPerCss}px`;
      this.scaleLabel.textContent = mm >= 10 ? `${mm / 10} cm` : `${mm} mm`;
    }
  }

  // -- interaction -----------------------------------------------------------------------
  go(index) {
    const n = this.count();
    if (!n) return;
    const next = Math.min(n - 1, Math.max(0, index));
    if (next === this.current) return;
    this.current = next;
    this.model.index = next;
    this.pump();
    this.requestDraw();
    this.shareScroll();
  }

  imagePixel(event) {
    const frame = this.image(this.current);
    if (!frame) return null;
    const rect = this.canvas.getBoundingClientRect();
    const p = this.placement(frame);
    const x = ((event.clientX - rect.left) / rect.width) * 2 - 1;
    const y = 1 - ((event.clientY - rect.top) / rect.height) * 2;
    const u = ((x - p.offset[0]) / p.scale[0] + 1) / 2, v = (1 - (y - p.offset[1]) / p.scale[1]) / 2;
    const col = Math.floor(u * frame.columns), row = Math.floor(v * frame.rows);
    return col >= 0 && row >= 0 && col < frame.columns && row < frame.rows ? {row, col} : null;
  }

  drag(event) {
    const p = this.pointer;
    const dx = event.clientX - p.x, dy = event.clientY - p.y;
    if (p.action === "window") {
      const sensitivity = p.range / 768;
      this.set("window_width", Math.max(1, round(p.width + dx * sensitivity)));
      this.set("window_center", round(p.center + dy * sensitivity));
    } else if (p.action === "zoom") {
      this.set("zoom", Math.min(40, Math.max(0.1, p.zoom * Math.exp(-dy / 200))));
    } else if (p.action === "pan") {
      const rect = this.canvas.getBoundingClientRect();
      this.set("pan_x", p.panX + (dx / rect.width) * 2);
      this.set("pan_y", p.panY - (dy / rect.height) * 2);
    } else if (p.action === "scroll") {
      this.go(p.index + Math.trunc(dy / 8));
    }
  }

  bind() {
    const root = this.root, canvas = () => this.canvas, m = this.model;
    root.addEventListener("contextmenu", (e) => e.preventDefault());
    root.addEventListener("wheel", (event) => {
      event.preventDefault();
      if (event.ctrlKey) {
        this.set("zoom", Math.min(40, Math.max(0.1, (this.get("zoom") || 1) * Math.exp(-event.deltaY / 500))));
        return;
      }
      if (event.deltaMode === 1) this.wheelRest += Math.sign(event.deltaY) * 100;
      else this.wheelRest += event.deltaY;
      const steps = Math.trunc(this.wheelRest / 100);
      if (!steps) return;
      this.wheelRest -= steps * 100;
      this.go(this.current + steps);
    }, {passive: false});
    root.addEventListener("pointerdown", (event) => {
      if (event.target === this.slider) return;
      root.focus();
      if (m.playing) m.playing = false;
      if (this.volumeDown(event)) return;     // the volume tool or brush (volume_tool.js)
      if (this.annotateDown(event)) return;   // a measurement tool (annotate.js)
      const frame = this.image(this.current);
      const tool = event.button === 1 ? "pan" : event.button === 2 ? "zoom" : m.tool;
      const range = frame ? Math.max(1, (frame.max - frame.min) * Math.abs(this.info(this.current).slope || 1)) : 256;
      this.pointer = {action: tool, x: event.clientX, y: event.clientY, range, index: this.current,
                      button: event.button, time: performance.now(),
                      width: this.get("window_width") ?? 256, center: this.get("window_center") ?? 127.5,
                      zoom: this.get("zoom") || 1, panX: this.get("pan_x") || 0, panY: this.get("pan_y") || 0};
      canvas().setPointerCapture(event.pointerId);
    });
    root.addEventListener("pointermove", (event) => {
      if (this.volumeMove(event)) return;
      if (this.annotateMove(event)) return;
      if (this.pointer) { this.drag(event); return; }
      this.cursor = this.imagePixel(event);
      this.texts(this.image(this.current), this.info(this.current));
    });
    const release = () => { if (this.pointer) { this.pointer = null; this.flush(); } };
    root.addEventListener("pointerup", (event) => {
      if (this.volumeUp(event)) return;
      if (this.annotateUp(event)) return;
      const p = this.pointer;
      // A left click that did not drag selects the pixel under it.
      if (p && p.button === 0 && Math.hypot(event.clientX - p.x, event.clientY - p.y) < 4
          && performance.now() - p.time < 600) {
        const pixel = this.imagePixel(event);
        if (pixel) { m.selected = [this.current, pixel.row, pixel.col]; this.requestDraw(); }
      }
      release();
    });
    root.addEventListener("pointercancel", release);
    root.addEventListener("pointerleave", () => { this.cursor = null; });
    root.addEventListener("dblclick", () => { m.zoom = 1; m.pan_x = 0; m.pan_y = 0; this.requestDraw(); });
    root.addEventListener("keydown", (event) => {
      const n = this.count();
      const moves = {ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1,
                     PageDown: 10, PageUp: -10, Home: -n, End: n};
      if (event.key in moves) {
        event.preventDefault();
        this.go(this.current + moves[event.key]);
      } else if (event.key === " " && this.series.frameTimes) {
        event.preventDefault();
        m.playing = !m.playing;
      } else if (event.key === "i") {
        m.invert = !m.invert;
      }
    });
    this.slider.addEventListener("input", () => this.go(Number(this.slider.value)));
  }

  // The model changed (from Python, or from this view through set()/flush()).
  changed(name) {
    if (name === "tool") this.root.dataset.tool = this.model.tool;
    if (name === "series") { this.current = Math.min(this.model.index, Math.max(0, this.count() - 1)); this.setSeries(); return; }
    if (name === "orientation") {
      this.current = Math.min(this.model.index, Math.max(0, this.count() - 1));
      this.mpr = null;
      this.cursor = null;
      this.arrange();
      this.pump();
    }
    if (name === "index" && !this.playing) { this.current = this.model.index; this.pump(); }
    if (name === "playing") { if (this.model.playing) this.play(); return; }
    if (name === "window_width" && this.model.window_width == null && this.image(this.current)) this.autoWindow();
    this.requestDraw();
  }
}

const WATCHED = ["series", "index", "window_center", "window_width", "voi_function", "invert",
                 "zoom", "pan_x", "pan_y", "smooth", "playing", "speed", "loop", "tool",
                 "orientation", "selected", "key_images", "annotations", "annotation_selected",
                 "volume_mask", "volume_brush"];

export function render({ model, el }) {
  const view = new Viewport(model, el);
  for (const name of WATCHED) model.on(name, () => view.changed(name));
  model.on("msg:custom", (message) => view.received(message));
  model.on("sync", () => view.joinGroups());
  model.on("remove", () => { if (view.controller) view.controller.abort(); view.leaveGroups(); });
  if (model.playing) view.play();
}

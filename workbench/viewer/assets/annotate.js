// Measurement tools: shapes drawn on an SVG overlay above the image canvas.
// Points are image pixels [row, col] of the displayed acquired image, zero-based with
// integers at pixel centres (workbench.measure's convention); the overlay maps them to
// the screen through placement(), so shapes follow zoom, pan and scrolling, and each
// shows on its own image only. A finished shape goes to Python with
// model.send_msg({type: "annotation", action: "create"|"update"|"delete", ...}); Python
// has the archive measure it (workbench.viewer.annotations) and sets model.annotations
// ({id, kind, index, points, text, editable}), which replaces the shape drawn here.
// Text is put into the page with textContent only.

const SVG_NS = "http://www.w3.org/2000/svg";
// drag: press, drag, release gives two points; clicks: that many clicks; free: a path.
const DRAW_TOOLS = {length: "drag", arrow: "drag", ellipse: "drag", rectangle: "drag",
                    bidirectional: "drag", freehand: "free", angle: 3, cobb: 4, probe: 1, text: 1};
const HANDLE_HIT_PX = 8;

function svg(tag, attrs, parent) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

// A 2-point ellipse (box corners) as its four axis endpoints, horizontal axis first.
function ellipseAxes(points) {
  if (points.length !== 2) return points;
  const [[r0, c0], [r1, c1]] = points, rm = (r0 + r1) / 2, cm = (c0 + c1) / 2;
  return [[rm, c0], [rm, c1], [r0, cm], [r1, cm]];
}

// Bidirectional from a dragged long axis: a short axis across its middle, half as long.
function bidirectionalAxes([[r0, c0], [r1, c1]]) {
  const rm = (r0 + r1) / 2, cm = (c0 + c1) / 2, dr = (r1 - r0) / 4, dc = (c1 - c0) / 4;
  return [[r0, c0], [r1, c1], [rm - dc, cm + dr], [rm + dc, cm - dr]];
}

Object.assign(Viewport.prototype, {
  attachAnnotations() {
    this.overlay = svg("svg", {class: "wb-annotations"});
    this.root.insertBefore(this.overlay, this.canvas.nextSibling);
    this.drawing = null;     // the shape being drawn: {tool, index, points, dragging}
    this.editing = null;     // a handle being moved: {id, k, points, moved}
    this.pendingShapes = []; // sent, not answered yet (drawn dashed)
    this.shownAnnotations = null;
    this.root.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.drawing) { this.drawing = null; this.requestDraw(); }
      const id = this.model.annotation_selected;
      if ((event.key === "Delete" || event.key === "Backspace") && id != null) {
        event.preventDefault();
        this.model.send_msg({type: "annotation", action: "delete", id});
        this.model.annotation_selected = null;
      }
    });
  },

  measuring() { return this.model.tool === "select" || this.model.tool in DRAW_TOOLS; },

  // [row, col] of the image under a pointer event (continuous, clamped to the image).
  pointAt(event, frame) {
    const rect = this.canvas.getBoundingClientRect(), p = this.placement(frame);
    const x = ((event.clientX - rect.left) / rect.width) * 2 - 1;
    const y = 1 - ((event.clientY - rect.top) / rect.height) * 2;
    const u = ((x - p.offset[0]) / p.scale[0] + 1) / 2, v = (1 - (y - p.offset[1]) / p.scale[1]) / 2;
    const clamp = (value, n) => Math.min(n - 1, Math.max(0, value));
    const r4 = (value) => Math.round(value * 1e4) / 1e4;
    return [r4(clamp(v * frame.rows - 0.5, frame.rows)), r4(clamp(u * frame.columns - 0.5, frame.columns))];
  },

  // CSS pixels in the viewport of image point [row, col].
  screenOf(frame, [row, col]) {
    const p = this.placement(frame);
    const x = p.offset[0] + (2 * (col + 0.5) / frame.columns - 1) * p.scale[0];
    const y = p.offset[1] + (1 - 2 * (row + 0.5) / frame.rows) * p.scale[1];
    return [(x + 1) / 2 * this.root.clientWidth, (1 - y) / 2 * this.root.clientHeight];
  },

  shapesHere() {
    return (this.model.annotations || []).filter((a) => a.index === this.current);
  },

  hitHandle(event, frame) {
    const rect = this.root.getBoundingClientRect();
    const x = event.clientX - rect.left, y = event.clientY - rect.top;
    for (const shape of this.shapesHere()) {
      if (!shape.editable) continue;
      for (let k = 0; k < shape.points.length; k++) {
        const [sx, sy] = this.screenOf(frame, shape.points[k]);
        if (Math.hypot(sx - x, sy - y) <= HANDLE_HIT_PX) return {shape, k};
      }
    }
    return null;
  },

  annotateDown(event) {
    if (event.button !== 0 || !this.measuring() || this.plane) return false;
    const frame = this.image(this.current);
    if (!frame) return false;
    const hit = this.hitHandle(event, frame);
    if (hit) {
      this.model.annotation_selected = hit.shape.id;
      this.editing = {id: hit.shape.id, kind: hit.shape.kind, k: hit.k, moved: false,
                      points: hit.shape.points.map((p) => p.slice())};
      this.canvas.setPointerCapture(event.pointerId);
      this.requestDraw();
      return true;
    }
    const tool = this.model.tool, mode = DRAW_TOOLS[tool], point = this.pointAt(event, frame);
    if (tool === "select" || mode === undefined) {
      this.model.annotation_selected = null;
      this.requestDraw();
      return true;
    }
    if (typeof mode === "number") {
      const d = this.drawing;
      if (!d || d.tool !== tool || d.index !== this.current) this.drawing = {tool, index: this.current, points: []};
      this.drawing.points.push(point);
      if (this.drawing.points.length === mode) this.finishDrawing();
    } else {
      this.drawing = {tool, index: this.current, dragging: true,
                      points: mode === "free" ? [point] : [point, point]};
      this.canvas.setPointerCapture(event.pointerId);
    }
    this.requestDraw();
    return true;
  },

  annotateMove(event) {
    const frame = this.image(this.current);
    if (!frame) return false;
    if (this.editing) {
      const e = this.editing, point = this.pointAt(event, frame);
      if (e.kind === "ellipse" && e.points.length === 4) {   // keep the centre: move both ends
        const o = e.k ^ 1, c = [(e.points[0][0] + e.points[1][0]) / 2, (e.points[0][1] + e.points[1][1]) / 2];
        e.points[o] = [2 * c[0] - point[0], 2 * c[1] - point[1]];
      }
      e.points[e.k] = point;
      e.moved = true;
      this.requestDraw();
      return true;
    }
    const d = this.drawing;
    if (!d || !d.dragging) return false;
    const point = this.pointAt(event, frame);
    if (DRAW_TOOLS[d.tool] === "free") {
      const last = d.points[d.points.length - 1];
      if (Math.hypot(point[0] - last[0], point[1] - last[1]) >= 1) d.points.push(point);
    } else {
      d.points[1] = point;
    }
    this.requestDraw();
    return true;
  },

  annotateUp(event) {
    if (this.editing) {
      const e = this.editing;
      this.editing = null;
      if (e.moved) {
        this.pendingShapes.push({kind: e.kind, index: this.current, points: e.points, replaces: e.id});
        this.model.send_msg({type: "annotation", action: "update", id: e.id, points: e.points});
      }
      this.requestDraw();
      return true;
    }
    const d = this.drawing;
    if (!d || !d.dragging) return false;
    d.dragging = false;
    const [a, b] = [d.points[0], d.points[d.points.length - 1]];
    const free = DRAW_TOOLS[d.tool] === "free";
    if ((free && d.points.length < 3) || (!free && Math.hypot(a[0] - b[0], a[1] - b[1]) < 1)) {
      this.drawing = null;   // a click, not a shape
    } else {
      this.finishDrawing();
    }
    this.requestDraw();
    return true;
  },

  finishDrawing() {
    const d = this.drawing;
    this.drawing = null;
    let label = "";
    if (d.tool === "text") {
      label = (window.prompt("Text") || "").trim();
      if (!label) return;
    }
    const points = d.tool === "bidirectional" ? bidirectionalAxes(d.points) : d.points;
    this.pendingShapes.push({kind: d.tool, index: d.index, points});
    this.model.send_msg({type: "annotation", action: "create", kind: d.tool, index: d.index,
                         points, label});
  },

  // -- drawing ---------------------------------------------------------------------------
  renderAnnotations(frame) {
    const overlay = this.overlay;
    if (this.shownAnnotations !== this.model.annotations) {   // Python answered
      this.shownAnnotations = this.model.annotations;
      this.pendingShapes = [];
    }
    overlay.replaceChildren();
    const shapes = frame && !this.plane ? this.shapesHere() : [];
    this.root.dataset.annotations = String(shapes.length);
    if (!frame || this.plane) return;
    const selected = this.model.annotation_selected, editing = this.editing;
    const replaced = new Set(this.pendingShapes.map((s) => s.replaces).filter((id) => id != null));
    for (const shape of shapes) {
      const moving = editing && editing.id === shape.id;
      if (replaced.has(shape.id) && !moving) continue;
      this.drawShape(frame, {...shape, points: moving ? editing.points : shape.points},
                     shape.id === selected ? "wb-ann wb-ann-selected" : "wb-ann");
    }
    for (const shape of this.pendingShapes) {
      if (shape.index === this.current) this.drawShape(frame, shape, "wb-ann wb-ann-pending");
    }
    // Another tool picked: a shape still being clicked is abandoned (else picking its
    // tool again would go on with the old points).
    if (this.drawing && this.drawing.tool !== this.model.tool) this.drawing = null;
    const d = this.drawing;
    if (d && d.index === this.current) {
      const points = d.tool === "bidirectional" && d.points.length === 2 ? bidirectionalAxes(d.points) : d.points;
      this.drawShape(frame, {kind: d.tool, points, drawing: true}, "wb-ann wb-ann-drawing");
    }
  },

  drawShape(frame, shape, className) {
    const group = svg("g", {class: className, "data-kind": shape.kind}, this.overlay);
    if (shape.id != null) group.dataset.id = String(shape.id);
    const at = shape.points.map((p) => this.screenOf(frame, p));
    const line = (a, b) => svg("line", {x1: a[0], y1: a[1], x2: b[0], y2: b[1]}, group);
    const poly = (pts, closed) => svg(closed ? "polygon" : "polyline",
                                      {points: pts.map((p) => p.join(",")).join(" ")}, group);
    const kind = shape.kind;
    if (kind === "length" || kind === "arrow") {
      if (at.length >= 2) line(at[0], at[1]);
      if (kind === "arrow" && at.length >= 2) {
        const [t, h] = at, angle = Math.atan2(h[1] - t[1], h[0] - t[0]);
        for (const s of [-0.45, 0.45]) line(h, [h[0] - 12 * Math.cos(angle + s), h[1] - 12 * Math.sin(angle + s)]);
      }
    } else if (kind === "angle" || (kind === "cobb" && at.length < 4)) {
      poly(at, false);
    } else if (kind === "cobb" || kind === "bidirectional") {
      if (at.length >= 2) line(at[0], at[1]);
      if (at.length >= 4) line(at[2], at[3]);
    } else if (kind === "ellipse") {
      const axes = shape.points.length === 2 ? ellipseAxes(shape.points).map((p) => this.screenOf(frame, p)) : at;
      if (axes.length === 4) {
        const c = [(axes[0][0] + axes[1][0]) / 2, (axes[0][1] + axes[1][1]) / 2];
        const a = [(axes[1][0] - axes[0][0]) / 2, (axes[1][1] - axes[0][1]) / 2];
        const b = [(axes[3][0] - axes[2][0]) / 2, (axes[3][1] - axes[2][1]) / 2];
        const pts = [];
        for (let k = 0; k < 72; k++) {
          const t = (2 * Math.PI * k) / 72;
          pts.push([c[0] + a[0] * Math.cos(t) + b[0] * Math.sin(t), c[1] + a[1] * Math.cos(t) + b[1] * Math.sin(t)]);
        }
        poly(pts, true);
      }
    } else if (kind === "rectangle" && shape.points.length >= 2) {
      const [[r0, c0], [r1, c1]] = shape.points;
      poly([[r0, c0], [r0, c1], [r1, c1], [r1, c0]].map((p) => this.screenOf(frame, p)), true);
    } else if (kind === "freehand" || kind === "polygon") {
      poly(at, !shape.drawing);
    } else if (kind === "probe" && at.length) {
      svg("circle", {cx: at[0][0], cy: at[0][1], r: 4}, group);
    }
    if (className.includes("wb-ann-selected") || shape.drawing) {
      for (const p of at) svg("rect", {class: "wb-ann-handle", x: p[0] - 3, y: p[1] - 3, width: 6, height: 6}, group);
    }
    if (shape.text && at.length) {
      const anchor = at[at.length - 1];
      const text = svg("text", {x: anchor[0] + 8, y: anchor[1] - 8, class: "wb-ann-label"}, group);
      text.textContent = shape.text;
    }
  },
});

// The volume tool: a click with the "volume" tool sends the seed pixel to Python, which
// grows the region in the series' volume (workbench.viewer.volume_tool); a drag with the
// "brush" tool paints (or erases) discs along the stroke, shown at once and sent to Python
// when released. Python answers with model.volume_mask: run-lengths of each acquired
// image's mask ({rows, columns, voxels, version, slices: {index: [start, length, ...]}}),
// drawn here translucent on a canvas above the image, through placement(), so the mask
// follows zoom, pan and scrolling like the shapes of annotate.js. Reformatted planes
// show no mask and take no seed. The viewport reports data-mask-voxels (all slices)
// and data-mask-slice (the image shown).

const MASK_COLOUR = [34, 197, 94];   // drawn at MASK_ALPHA over the image
const MASK_ALPHA = 0.45;
const CLICK_PX = 4;

Object.assign(Viewport.prototype, {
  attachVolume() {
    this.maskCanvas = element("canvas", "wb-mask");
    Object.assign(this.maskCanvas.style, {position: "absolute", inset: "0", width: "100%",
                                          height: "100%", pointerEvents: "none"});
    this.root.insertBefore(this.maskCanvas, this.canvas.nextSibling);
    this.maskImages = new Map();  // display index -> {canvas, count}: the mask's pixels
    this.maskShown = null;        // the model.volume_mask they were made from
    this.volumePointer = null;    // {tool, x, y, index, points} while pressed
    this.brushAt = null;          // [x, y] CSS px of the pointer, for the brush's circle
    this.root.addEventListener("pointerleave", () => { this.brushAt = null; this.requestDraw(); });
  },

  volumeTool() {
    const tool = this.model.tool;
    return tool === "volume" || tool === "brush" ? tool : null;
  },

  volumeDown(event) {
    const tool = this.volumeTool(), frame = this.image(this.current);
    if (event.button !== 0 || !tool || this.plane || !frame) return false;
    const point = this.pointAt(event, frame);
    this.volumePointer = {tool, x: event.clientX, y: event.clientY, index: this.current,
                          points: [point]};
    this.canvas.setPointerCapture(event.pointerId);
    if (tool === "brush") this.paintPreview(frame, point);
    this.requestDraw();
    return true;
  },

  volumeMove(event) {
    const tool = this.volumeTool(), frame = this.image(this.current);
    if (!tool || !frame) return false;
    const rect = this.root.getBoundingClientRect();
    this.brushAt = tool === "brush" ? [event.clientX - rect.left, event.clientY - rect.top] : null;
    const p = this.volumePointer;
    if (p && p.tool === "brush" && p.index === this.current) {
      const point = this.pointAt(event, frame), last = p.points[p.points.length - 1];
      if (Math.hypot(point[0] - last[0], point[1] - last[1]) >= 0.5) {
        p.points.push(point);
        this.paintPreview(frame, point);
      }
    }
    this.requestDraw();
    return Boolean(p);   // hovering: the pixel read-out goes on
  },

  volumeUp(event) {
    const p = this.volumePointer;
    if (!p) return false;
    this.volumePointer = null;
    if (p.tool === "brush") {
      this.model.send_msg({type: "volume", action: "brush", index: p.index, points: p.points});
    } else if (Math.hypot(event.clientX - p.x, event.clientY - p.y) < CLICK_PX) {
      const [row, col] = p.points[0];
      this.model.send_msg({type: "volume", action: "seed", index: p.index,
                           row: Math.round(row), col: Math.round(col)});
    }
    this.requestDraw();
    return true;
  },

  // An image-sized canvas holding the mask of one image (opaque; made translucent when drawn).
  maskImage(index, frame, create) {
    if (this.maskImages.has(index)) return this.maskImages.get(index);
    const runs = ((this.maskShown || {}).slices || {})[String(index)];
    if (!runs && !create) return null;
    const canvas = document.createElement("canvas");
    canvas.width = frame.columns;
    canvas.height = frame.rows;
    const context = canvas.getContext("2d");
    const pixels = context.createImageData(frame.columns, frame.rows), data = pixels.data;
    let count = 0;
    for (let k = 0; runs && k + 1 < runs.length; k += 2) {
      const stop = Math.min(runs[k] + runs[k + 1], frame.rows * frame.columns);
      for (let i = runs[k]; i < stop; i++) {
        data.set(MASK_COLOUR, 4 * i);
        data[4 * i + 3] = 255;
      }
      count += runs[k + 1];
    }
    context.putImageData(pixels, 0, 0);
    const image = {canvas, count};
    this.maskImages.set(index, image);
    return image;
  },

  // The brush's disc drawn at once on the image's mask (Python's answer replaces it).
  paintPreview(frame, [row, col]) {
    const brush = this.model.volume_brush || {}, [rowMm, colMm] = this.spacing();
    const radius = brush.radius_mm || 5, context = this.maskImage(this.current, frame, true).canvas.getContext("2d");
    context.globalCompositeOperation = brush.erase ? "destination-out" : "source-over";
    context.fillStyle = `rgb(${MASK_COLOUR.join(",")})`;
    context.beginPath();
    context.ellipse(col + 0.5, row + 0.5, radius / (colMm || 1), radius / (rowMm || 1), 0, 0, 2 * Math.PI);
    context.fill();
    context.globalCompositeOperation = "source-over";
  },

  renderMask(frame) {
    const mask = this.model.volume_mask || {};
    if (this.maskShown !== mask) {   // Python answered: rebuild from its runs
      this.maskShown = mask;
      this.maskImages.clear();
      let voxels = 0;
      for (const runs of Object.values(mask.slices || {})) {
        for (let k = 1; k < runs.length; k += 2) voxels += runs[k];
      }
      this.root.dataset.maskVoxels = String(voxels);
    }
    const canvas = this.maskCanvas, ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(this.root.clientWidth * ratio));
    const height = Math.max(1, Math.round(this.root.clientHeight * ratio));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const context = canvas.getContext("2d");
    context.clearRect(0, 0, width, height);
    let drawn = 0;
    if (frame && !this.plane) {
      const image = this.maskImage(this.current, frame, false);
      if (image) {
        const [x0, y0] = this.screenOf(frame, [-0.5, -0.5]);
        const [x1, y1] = this.screenOf(frame, [frame.rows - 0.5, frame.columns - 0.5]);
        context.imageSmoothingEnabled = false;
        context.globalAlpha = MASK_ALPHA;
        context.drawImage(image.canvas, x0 * ratio, y0 * ratio, (x1 - x0) * ratio, (y1 - y0) * ratio);
        context.globalAlpha = 1;
        drawn = image.count;
      }
      if (this.volumeTool() === "brush" && this.brushAt && this.mmPerPixel) {
        const brush = this.model.volume_brush || {};
        context.strokeStyle = brush.erase ? "#f87171" : "#4ade80";
        context.lineWidth = ratio;
        context.beginPath();
        context.arc(this.brushAt[0] * ratio, this.brushAt[1] * ratio,
                    (brush.radius_mm || 5) / this.mmPerPixel, 0, 2 * Math.PI);
        context.stroke();
      }
    }
    this.root.dataset.maskSlice = String(drawn);
  },
});

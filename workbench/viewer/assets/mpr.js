// Multiplanar display: axial, coronal and sagittal images cut from the stack the browser
// has loaded, by index arithmetic (no round trip to Python). A plane (series.planes[name],
// workbench.viewer.mpr.ReformatPlane) says along which volume axis (0 slice, 1 row,
// 2 column) and in which direction each of its axes (image, row, column) runs, its shape
// and spacing (mm), so the image is shown with its true aspect ratio. Reformatted pixels
// hold modality values (each slice's rescale applied); slices not loaded yet are black.

const MISSING = -3.0e38;

Object.assign(Viewport.prototype, {
  reformatted(k) {
    const p = this.plane;
    const key = this.model.orientation + ":" + k;
    if (this.mpr && this.mpr.key === key && this.mpr.loaded === this.cache.size) return this.mpr.frame;
    const [images, rows, columns] = p.shape;
    const fmt = (this.series.formats || [])[0];
    if (k < 0 || k >= images || !fmt || !this.cache.size) return null;
    // Volume index (slice, row, col) of reformatted (k, 0, 0), and its steps per row / column.
    const start = [0, 0, 0], down = [0, 0, 0], across = [0, 0, 0];
    const first = (i, t) => (p.signs[i] > 0 ? t : p.shape[i] - 1 - t);
    start[p.axes[0]] = first(0, k);
    start[p.axes[1]] = first(1, 0);
    start[p.axes[2]] = first(2, 0);
    down[p.axes[1]] = p.signs[1];
    across[p.axes[2]] = p.signs[2];
    const values = new Float32Array(rows * columns);
    const width = fmt.columns;
    let min = Infinity, max = -Infinity;
    for (let r = 0; r < rows; r++) {
      let s = start[0] + r * down[0], y = start[1] + r * down[1], x = start[2] + r * down[2];
      let frame = this.cache.get(s), info = this.frames[s];
      for (let c = 0; c < columns; c++) {
        if (across[0] && c) { s += across[0]; frame = this.cache.get(s); info = this.frames[s]; }
        let v = MISSING;
        if (frame) {
          v = frame.values[y * width + x] * info.slope + info.intercept;
          if (v < min) min = v;
          if (v > max) max = v;
        }
        values[r * columns + c] = v;
        y += across[1];
        x += across[2];
      }
    }
    if (min > max) { min = 0; max = 0; }
    const frame = {kind: "grey", values, rows, columns, min, max};
    this.mpr = {key, loaded: this.cache.size, frame};
    return frame;
  }
});

// Pixels from a notebook's kernel (series.kernel): the viewport asks Python for frames
// with model.send_msg({type: "frames", key, indices}) and Python answers with one
// message {type: "frames", key, indices, data} whose data holds the frames' 32-bit
// float values one after the other (ImageView._handle_msg).

const KERNEL_BATCH = 8;

Object.assign(Viewport.prototype, {
  pumpKernel() {
    while (this.pending.size < 2 * KERNEL_BATCH) {
      const index = this.nextMissing();
      if (index < 0) return;
      const batch = [index];
      for (let k = index + 1; k < this.frames.length && batch.length < KERNEL_BATCH; k++) {
        if (this.cache.has(k) || this.pending.has(k)) break;
        batch.push(k);
      }
      batch.forEach((k) => this.pending.add(k));
      this.model.send_msg({type: "frames", key: this.series.key, indices: batch});
    }
  },

  received(message) {
    if (!message || message.type !== "frames" || message.key !== this.series.key) return;
    const batch = message.indices || [];
    if (message.error) { this.failed(batch, new Error(message.error)); return; }
    let data = message.data;
    if (!(data instanceof ArrayBuffer)) data = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
    const decoded = [];
    let offset = 0;
    for (const k of batch) {
      const fmt = this.series.formats[this.frames[k].f];
      const size = fmt.rows * fmt.columns * 4;
      decoded.push(decodeFrame(data.slice(offset, offset + size), fmt));
      offset += size;
    }
    this.arrived(batch, decoded);
  }
});

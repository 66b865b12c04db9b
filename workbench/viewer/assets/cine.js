// Cine playback for the image viewport: the browser's clock picks the frame the
// acquisition's frame times say (Frame Time, Frame Time Vector, ...; 30 fps when none),
// times `speed`; frames the display cannot keep up with are dropped, not delayed.

Object.assign(Viewport.prototype, {
  frameTimes() {
    const times = this.series.frameTimes;
    if (times && times.length === this.frames.length) return times;
    return this.frames.map((_, k) => k * (1000 / 30));
  },

  play() {
    if (!this.model.playing || this.playing) return;
    const times = this.frameTimes();
    const n = times.length;
    if (n < 2) { this.model.playing = false; return; }
    const step = (times[n - 1] - times[0]) / (n - 1);
    const total = times[n - 1] - times[0] + step;
    const startIndex = this.current >= n - 1 && !this.model.loop ? 0 : this.current;
    const origin = times[startIndex] - times[0];
    const started = performance.now();
    let last = -1;
    this.playing = true;
    this.root.dataset.playing = "1";
    this.shown = 0;
    this.late = 0;
    this.dropped = 0;
    this.root.dataset.playStart = String(startIndex);
    const tick = (now) => {
      const m = this.model;
      if (!m.playing) { this.stopPlaying(); return; }
      let t = origin + (now - started) * (m.speed || 1);
      if (t >= total && !m.loop) {
        this.show(n - 1);
        m.playing = false;
        this.stopPlaying();
        return;
      }
      t %= total;
      let k = 0;
      while (k + 1 < n && times[k + 1] - times[0] <= t) k++;
      if (k !== last) {
        // Frames skipped because drawing could not keep up count as dropped.
        if (last >= 0) this.dropped += Math.max(0, ((k - last + n) % n) - 1);
        last = k;
        if (this.cache.has(k)) this.shown++; else this.late++;
        this.show(k);
      }
      this.root.dataset.dropped = String(this.dropped);
      this.root.dataset.shown = String(this.shown);
      this.root.dataset.late = String(this.late);
      this.root.dataset.playedMs = String(Math.round(now - started));
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  },

  show(k) {
    this.current = k;
    this.draw();
  },

  stopPlaying() {
    // While playing only the browser knows the frame; Python learns where it stopped.
    this.playing = false;
    if (this.model.index !== this.current) this.model.index = this.current;
    this.root.dataset.playing = "0";   // after telling Python the frame (tests wait on it)
    this.pump();
    this.requestDraw();
  }
});

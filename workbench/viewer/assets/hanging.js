// Hanging protocols in the viewport: synchronisation groups and key-image badges.
// model.sync = {groups: {scroll|window|zoom: token}, normals: {acquired|axial|...: [x, y, z]}}
// (workbench.viewer.hanging_app). Viewports sharing a token follow each other here, in
// the browser, without waiting for Python: scroll by patient position (the location of
// the image along its normal, LPS mm, compared along the peer's normal; planes that are
// not parallel do not scroll each other), window/level and zoom/pan by value.
// model.key_images lists the display indices flagged as key: the image shows a badge.

const SYNC_GROUPS = globalThis.__workbenchSyncGroups || (globalThis.__workbenchSyncGroups = new Map());
const SYNC_KIND = {window_width: "window", window_center: "window", zoom: "zoom", pan_x: "zoom", pan_y: "zoom"};
const PARALLEL_COS = 0.99;   // |cos| between normals above which two stacks scroll together

Object.assign(Viewport.prototype, {
  attachHanging() {
    this.keyBadge = element("div", "wb-key-badge", this.root);
    this.keyBadge.textContent = "KEY";
    this.keyBadge.hidden = true;
    this.syncTokens = [];
    this.following = false;
    // The reader's last viewport: flagging a key image takes its image.
    const touched = () => { this.model.touched = (this.model.touched || 0) + 1; };
    this.root.addEventListener("pointerdown", touched);
    this.root.addEventListener("wheel", () => { if (!this.wheelTouched) { this.wheelTouched = true; touched(); } }, {passive: true});
    this.root.addEventListener("pointerleave", () => { this.wheelTouched = false; });
    this.joinGroups();
  },

  joinGroups() {
    this.leaveGroups();
    const groups = (this.model.sync || {}).groups || {};
    this.syncTokens = Object.values(groups).filter((t) => t);
    for (const token of this.syncTokens) {
      if (!SYNC_GROUPS.has(token)) SYNC_GROUPS.set(token, new Set());
      SYNC_GROUPS.get(token).add(this);
    }
    this.root.dataset.sync = Object.keys(groups).sort().join(",");
  },

  leaveGroups() {
    for (const token of this.syncTokens || []) {
      const members = SYNC_GROUPS.get(token);
      if (!members) continue;
      members.delete(this);
      if (!members.size) SYNC_GROUPS.delete(token);
    }
    this.syncTokens = [];
  },

  peers(kind) {
    const token = (((this.model.sync || {}).groups) || {})[kind];
    const members = token ? SYNC_GROUPS.get(token) : null;
    return members ? [...members].filter((v) => v !== this && v.root.isConnected) : [];
  },

  // Unit normal (LPS) of the images shown, or null when unknown.
  normal() {
    const normals = (this.model.sync || {}).normals || {};
    return normals[this.plane ? this.model.orientation : "acquired"] || null;
  },

  // Location (mm along normal()) of displayed image `index`, or null.
  location(index) {
    const info = this.info(index);
    return info && info.location != null ? info.location : null;
  },

  // The displayed image nearest a point at `location` mm along `normal`, or -1.
  nearest(normal, location) {
    const mine = this.normal(), n = this.count();
    if (!mine || !n) return -1;
    const cos = mine[0] * normal[0] + mine[1] * normal[1] + mine[2] * normal[2];
    if (Math.abs(cos) < PARALLEL_COS) return -1;
    const target = location * cos;
    let best = -1, distance = Infinity;
    for (let k = 0; k < n; k++) {
      const here = this.location(k);
      if (here == null) continue;
      const d = Math.abs(here - target);
      if (d < distance) { best = k; distance = d; }
    }
    return best;
  },

  // Called by go(): peers in the scroll group show the image at the same position.
  shareScroll() {
    if (this.following) return;
    const normal = this.normal(), location = this.location(this.current);
    if (!normal || location == null) return;
    for (const peer of this.peers("scroll")) {
      const k = peer.nearest(normal, location);
      if (k < 0) continue;
      peer.following = true;
      try { peer.go(k); } finally { peer.following = false; }
    }
  },

  // Called by set(): peers in the window or zoom group take the same value.
  shareValue(name, value) {
    const kind = SYNC_KIND[name];
    if (!kind || this.following) return;
    for (const peer of this.peers(kind)) {
      peer.following = true;
      try { peer.set(name, value); } finally { peer.following = false; }
    }
  },

  markKey(frame) {
    const keys = this.plane ? [] : (this.model.key_images || []);
    const key = Boolean(frame) && keys.includes(this.current);
    this.keyBadge.hidden = !key;
    this.root.dataset.key = key ? "1" : "0";
  },
});

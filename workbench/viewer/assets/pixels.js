// Fetching frames from WADO-RS and turning their bytes into texture data.
// Frame numbers in URLs are one-based; rows and columns are zero-based from the top left.

const CRLF2 = [13, 10, 13, 10];

function indexOfBytes(haystack, needle, from) {
  const first = needle[0];
  const last = haystack.length - needle.length;
  outer: for (let i = from; i <= last; i++) {
    if (haystack[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

// The bodies of a multipart/related answer (PS3.18 8.7.3.3), each as its own ArrayBuffer
// (copied, so that typed arrays over it are aligned).
export function multipartBodies(buffer, contentType) {
  const match = /boundary="?([^";,]+)"?/i.exec(contentType || "");
  if (!match) return [buffer];
  const bytes = new Uint8Array(buffer);
  const delimiter = Array.from(new TextEncoder().encode("--" + match[1]));
  const bodies = [];
  let at = indexOfBytes(bytes, delimiter, 0);
  while (at >= 0) {
    const headersEnd = indexOfBytes(bytes, CRLF2, at + delimiter.length);
    if (headersEnd < 0) break;
    const start = headersEnd + 4;
    const next = indexOfBytes(bytes, [13, 10].concat(delimiter), start);
    if (next < 0) break;
    bodies.push(buffer.slice(start, next));
    at = next + 2;
  }
  return bodies;
}

const ACCEPT_NATIVE = 'multipart/related; type="application/octet-stream"';

// GET frames of one instance (`base` ends with "/frames/") as native pixels.
export async function fetchFrames(base, numbers, headers, signal) {
  const response = await fetch(base + numbers.join(","), {
    headers: Object.assign({Accept: ACCEPT_NATIVE}, headers || {}),
    credentials: "same-origin", signal,
  });
  if (!response.ok) throw new Error(`HTTP ${response.status} for frames ${numbers.join(",")}`);
  const bodies = multipartBodies(await response.arrayBuffer(), response.headers.get("content-type"));
  if (bodies.length !== numbers.length) {
    throw new Error(`asked ${numbers.length} frames, received ${bodies.length}`);
  }
  return bodies;
}

// GET a frame rendered by the archive (formats the browser does not decode itself).
export async function fetchRendered(url, headers, signal) {
  const response = await fetch(url + "/rendered", {
    headers: Object.assign({Accept: "image/png"}, headers || {}), credentials: "same-origin", signal,
  });
  if (!response.ok) throw new Error(`HTTP ${response.status} for ${url}/rendered`);
  const bitmap = await createImageBitmap(await response.blob());
  return {kind: "bitmap", bitmap, rows: bitmap.height, columns: bitmap.width, min: 0, max: 255};
}

function storedValues(buffer, fmt) {
  const n = fmt.rows * fmt.columns;
  const types = {8: [Uint8Array, Int8Array], 16: [Uint16Array, Int16Array], 32: [Uint32Array, Int32Array]};
  const Type = types[fmt.bitsAllocated][fmt.signed ? 1 : 0];
  if (buffer.byteLength < n * Type.BYTES_PER_ELEMENT) {
    throw new Error(`frame has ${buffer.byteLength} bytes, expected ${n * Type.BYTES_PER_ELEMENT}`);
  }
  return new Type(buffer, 0, n);
}

// Float frame (kernel) -> its values. Native grey frame -> Float32Array of stored values (unused high bits cleared or
// sign-extended, PS3.5 8.1.1), with its range. Colour -> RGB bytes, colour-by-pixel.
export function decodeFrame(buffer, fmt) {
  const n = fmt.rows * fmt.columns;
  if (fmt.float) {
    // 32-bit floats from a notebook's kernel: modality values already.
    if (buffer.byteLength < n * 4) throw new Error(`frame has ${buffer.byteLength} bytes, expected ${n * 4}`);
    const values = new Float32Array(buffer, 0, n);
    let min = Infinity, max = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    return {kind: "grey", values, rows: fmt.rows, columns: fmt.columns, min, max};
  }
  if (fmt.samples === 1) {
    const raw = storedValues(buffer, fmt);
    const values = new Float32Array(n);
    const unused = fmt.bitsAllocated - fmt.bitsStored;
    const shift = 32 - fmt.bitsStored;
    const mask = fmt.bitsStored >= 32 ? 0xffffffff : (2 ** fmt.bitsStored) - 1;
    let min = Infinity, max = -Infinity;
    for (let i = 0; i < n; i++) {
      let v = raw[i];
      if (unused > 0) v = fmt.signed ? ((v << shift) >> shift) : (v & mask);
      values[i] = v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    return {kind: "grey", values, rows: fmt.rows, columns: fmt.columns, min, max};
  }
  const bytes = new Uint8Array(buffer, 0, n * 3);
  let rgb = bytes;
  if (fmt.planar === 1) {
    rgb = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) {
      rgb[3 * i] = bytes[i]; rgb[3 * i + 1] = bytes[n + i]; rgb[3 * i + 2] = bytes[2 * n + i];
    }
  }
  return {kind: fmt.photometric === "YBR_FULL" ? "ybr" : "rgb", values: rgb,
          rows: fmt.rows, columns: fmt.columns, min: 0, max: 255};
}

// A window spanning the 0.5th to 99.5th percentile of the modality values of a grey frame
// (as workbench.imaging.lut.auto_window), from a 4096-bin histogram.
export function autoWindow(frame, slope, intercept) {
  if (frame.kind !== "grey") return [127.5, 256];
  const lo = frame.min, hi = frame.max;
  if (!(hi > lo)) return [lo * slope + intercept, Math.max(1, Math.abs(slope))];
  const bins = new Uint32Array(4096);
  const scale = 4095 / (hi - lo);
  const v = frame.values;
  for (let i = 0; i < v.length; i++) bins[Math.floor((v[i] - lo) * scale)]++;
  const quantile = (q) => {
    let seen = 0;
    const target = q * v.length;
    for (let b = 0; b < 4096; b++) {
      seen += bins[b];
      if (seen >= target) return lo + b / scale;
    }
    return hi;
  };
  const a = quantile(0.005) * slope + intercept, b = quantile(0.995) * slope + intercept;
  const low = Math.min(a, b), high = Math.max(a, b);
  return [(low + high) / 2, Math.max(high - low, 1)];
}

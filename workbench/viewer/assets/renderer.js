// Two renderers with one interface: WebGL2 (the LUTs in the fragment shader) and a
// Canvas2D fallback computing the same pipeline in JavaScript.
// draw(frame, view): view = {slope, intercept, center, width, fn, invert, scale, offset, smooth}
// with scale/offset in clip space (the image spans [-1, 1] times scale, plus offset).

const VOI_FUNCTIONS = {LINEAR: 0, LINEAR_EXACT: 1, SIGMOID: 2};

function compile(gl, type, source) {
  const shader = gl.createShader(type);
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) {
    throw new Error("shader: " + gl.getShaderInfoLog(shader));
  }
  return shader;
}

export class GlRenderer {
  constructor(canvas, vertexSource, fragmentSource) {
    const gl = canvas.getContext("webgl2", {preserveDrawingBuffer: true, antialias: false});
    if (!gl) throw new Error("WebGL2 is not available");
    this.gl = gl;
    this.name = "webgl2";
    const program = gl.createProgram();
    gl.attachShader(program, compile(gl, gl.VERTEX_SHADER, vertexSource));
    gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, fragmentSource));
    gl.linkProgram(program);
    if (!gl.getProgramParameter(program, gl.LINK_STATUS)) {
      throw new Error("program: " + gl.getProgramInfoLog(program));
    }
    this.program = program;
    this.uniforms = {};
    for (const name of ["u_grey", "u_colour", "u_mode", "u_size", "u_smooth", "u_slope",
                        "u_intercept", "u_center", "u_width", "u_function", "u_invert",
                        "u_scale", "u_offset"]) {
      this.uniforms[name] = gl.getUniformLocation(program, name);
    }
    const buffer = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
    this.vao = gl.createVertexArray();
    gl.bindVertexArray(this.vao);
    const location = gl.getAttribLocation(program, "a_position");
    gl.enableVertexAttribArray(location);
    gl.vertexAttribPointer(location, 2, gl.FLOAT, false, 0, 0);
    this.grey = this.texture(gl.NEAREST);
    this.colour = this.texture(gl.LINEAR);
    this.uploaded = null;
  }

  texture(filter) {
    const gl = this.gl;
    const texture = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, texture);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, filter);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, filter);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    return texture;
  }

  upload(frame) {
    if (this.uploaded === frame) return;
    const gl = this.gl;
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    if (frame.kind === "grey") {
      gl.activeTexture(gl.TEXTURE0);
      gl.bindTexture(gl.TEXTURE_2D, this.grey);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.R32F, frame.columns, frame.rows, 0, gl.RED, gl.FLOAT,
                    frame.values);
    } else {
      gl.activeTexture(gl.TEXTURE1);
      gl.bindTexture(gl.TEXTURE_2D, this.colour);
      if (frame.kind === "bitmap") {
        gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, gl.RGBA, gl.UNSIGNED_BYTE, frame.bitmap);
      } else {
        gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGB8, frame.columns, frame.rows, 0, gl.RGB,
                      gl.UNSIGNED_BYTE, frame.values);
      }
    }
    this.uploaded = frame;
  }

  draw(frame, view) {
    const gl = this.gl, u = this.uniforms;
    gl.viewport(0, 0, gl.drawingBufferWidth, gl.drawingBufferHeight);
    gl.clearColor(0, 0, 0, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
    if (!frame) return;
    this.upload(frame);
    gl.useProgram(this.program);
    gl.bindVertexArray(this.vao);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, this.grey);
    gl.activeTexture(gl.TEXTURE1);
    gl.bindTexture(gl.TEXTURE_2D, this.colour);
    gl.uniform1i(u.u_grey, 0);
    gl.uniform1i(u.u_colour, 1);
    const mode = {grey: 0, rgb: 1, ybr: 2, bitmap: 3}[frame.kind];
    gl.uniform1i(u.u_mode, mode);
    gl.uniform2i(u.u_size, frame.columns, frame.rows);
    gl.uniform1i(u.u_smooth, view.smooth ? 1 : 0);
    gl.uniform1f(u.u_slope, view.slope);
    gl.uniform1f(u.u_intercept, view.intercept);
    gl.uniform1f(u.u_center, view.center);
    gl.uniform1f(u.u_width, view.width);
    gl.uniform1i(u.u_function, VOI_FUNCTIONS[view.fn] || 0);
    gl.uniform1i(u.u_invert, view.invert ? 1 : 0);
    gl.uniform2f(u.u_scale, view.scale[0], view.scale[1]);
    gl.uniform2f(u.u_offset, view.offset[0], view.offset[1]);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
  }
}

// The VOI function of PS3.3 C.11.2.1.2, output in [0, 1] (the shader's voi()).
export function voi(x, center, width, fn) {
  if (fn === "SIGMOID") return 1 / (1 + Math.exp(-4 * (x - center) / width));
  if (fn === "LINEAR_EXACT") return Math.min(1, Math.max(0, (x - center) / width + 0.5));
  const c = center - 0.5, w = width - 1;
  if (w <= 0) return x > c ? 1 : 0;
  return Math.min(1, Math.max(0, (x - c) / w + 0.5));
}

export class CanvasRenderer {
  constructor(canvas) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.name = "canvas2d";
    this.scratch = document.createElement("canvas");
  }

  draw(frame, view) {
    const ctx = this.context, canvas = this.canvas;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (!frame) return;
    const {rows, columns} = frame;
    this.scratch.width = columns;
    this.scratch.height = rows;
    const sctx = this.scratch.getContext("2d");
    if (frame.kind === "bitmap") {
      sctx.drawImage(frame.bitmap, 0, 0);
    } else {
      const image = sctx.createImageData(columns, rows);
      const out = image.data, v = frame.values;
      for (let i = 0; i < rows * columns; i++) {
        let r, g, b;
        if (frame.kind === "grey") {
          r = g = b = voi(v[i] * view.slope + view.intercept, view.center, view.width, view.fn);
        } else {
          let s0 = v[3 * i], s1 = v[3 * i + 1], s2 = v[3 * i + 2];
          if (frame.kind === "ybr") {
            const y = s0, cb = s1 - 128, cr = s2 - 128;
            s0 = y + 1.402 * cr; s1 = y - 0.344136 * cb - 0.714136 * cr; s2 = y + 1.772 * cb;
          }
          r = voi(s0, view.center, view.width, view.fn);
          g = voi(s1, view.center, view.width, view.fn);
          b = voi(s2, view.center, view.width, view.fn);
        }
        if (view.invert) { r = 1 - r; g = 1 - g; b = 1 - b; }
        out[4 * i] = r * 255; out[4 * i + 1] = g * 255; out[4 * i + 2] = b * 255; out[4 * i + 3] = 255;
      }
      sctx.putImageData(image, 0, 0);
    }
    // Clip space [-1, 1] -> canvas pixels, y down.
    const w = canvas.width, h = canvas.height;
    const left = (view.offset[0] - view.scale[0] + 1) / 2 * w;
    const top = (1 - (view.offset[1] + view.scale[1])) / 2 * h;
    ctx.imageSmoothingEnabled = view.smooth;
    ctx.drawImage(this.scratch, left, top, view.scale[0] * w, view.scale[1] * h);
  }
}

export function makeRenderer(canvas, vertexSource, fragmentSource, forceCanvas) {
  if (!forceCanvas) {
    try {
      return new GlRenderer(canvas, vertexSource, fragmentSource);
    } catch (error) {
      console.warn("workbench viewer: falling back to Canvas2D:", error.message);
    }
  }
  return new CanvasRenderer(canvas);
}

#version 300 es
// Grey frames: stored values (R32F) -> modality LUT (rescale, PS3.3 C.11.1) -> VOI window
// (C.11.2.1.2: LINEAR, LINEAR_EXACT, SIGMOID) -> presentation (MONOCHROME1 / invert).
// Colour frames: RGB (or YBR_FULL converted, C.7.6.3.1.2), the window applied per channel.
precision highp float;
precision highp sampler2D;

uniform sampler2D u_grey;
uniform sampler2D u_colour;
uniform int u_mode;          // 0 grey, 1 rgb, 2 ybr_full, 3 rendered by the archive
uniform ivec2 u_size;        // columns, rows
uniform bool u_smooth;       // bilinear interpolation of modality values
uniform float u_slope;
uniform float u_intercept;
uniform float u_center;
uniform float u_width;
uniform int u_function;      // 0 LINEAR, 1 LINEAR_EXACT, 2 SIGMOID
uniform bool u_invert;
in vec2 v_tex;
out vec4 colour;

float voi(float x) {
  if (u_function == 2) {
    return 1.0 / (1.0 + exp(-4.0 * (x - u_center) / u_width));
  }
  if (u_function == 1) {
    return clamp((x - u_center) / u_width + 0.5, 0.0, 1.0);
  }
  float c = u_center - 0.5;
  float w = u_width - 1.0;
  if (w <= 0.0) {
    return x > c ? 1.0 : 0.0;
  }
  return clamp((x - c) / w + 0.5, 0.0, 1.0);
}

float stored(ivec2 p) {
  return texelFetch(u_grey, clamp(p, ivec2(0), u_size - 1), 0).r;
}

float modality() {
  vec2 p = v_tex * vec2(u_size) - 0.5;
  float value;
  if (u_smooth) {
    ivec2 i = ivec2(floor(p));
    vec2 f = p - floor(p);
    float top = mix(stored(i), stored(i + ivec2(1, 0)), f.x);
    float bottom = mix(stored(i + ivec2(0, 1)), stored(i + ivec2(1, 1)), f.x);
    value = mix(top, bottom, f.y);
  } else {
    value = stored(ivec2(floor(p + 0.5)));
  }
  return value * u_slope + u_intercept;
}

void main() {
  if (v_tex.x < 0.0 || v_tex.x > 1.0 || v_tex.y < 0.0 || v_tex.y > 1.0) {
    discard;
  }
  vec3 rgb;
  if (u_mode == 0) {
    rgb = vec3(voi(modality()));
  } else {
    vec3 s = texture(u_colour, v_tex).rgb * 255.0;
    if (u_mode == 2) {
      float y = s.r, cb = s.g - 128.0, cr = s.b - 128.0;
      s = vec3(y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb);
    }
    rgb = u_mode == 3 ? s / 255.0 : vec3(voi(s.r), voi(s.g), voi(s.b));
  }
  colour = vec4(u_invert ? 1.0 - rgb : rgb, 1.0);
}

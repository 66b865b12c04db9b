#version 300 es
// A unit quad placed by zoom, pan and aspect ratio; texture coordinates (0,0) at the
// top-left pixel corner, (1,1) at the bottom-right.
in vec2 a_position;
uniform vec2 u_scale;
uniform vec2 u_offset;
out vec2 v_tex;

void main() {
  v_tex = vec2(a_position.x * 0.5 + 0.5, 0.5 - a_position.y * 0.5);
  gl_Position = vec4(a_position * u_scale + u_offset, 0.0, 1.0);
}

// ECG paper: 1 mm minor and 5 mm major grid, leads at `speed` mm/s and `gain` mm/mV, a
// 1 mV calibration pulse at the start of each row. Values arrive in millivolts.
// Lead names and the title are drawn as canvas text or set with textContent.

const LAYOUTS = {
  "3x4+1": {columns: [["I", "II", "III"], ["aVR", "aVL", "aVF"], ["V1", "V2", "V3"], ["V4", "V5", "V6"]], rhythm: "II", rowMm: 32},
  "6x2": {columns: [["I", "II", "III", "aVR", "aVL", "aVF"], ["V1", "V2", "V3", "V4", "V5", "V6"]], rhythm: null, rowMm: 24},
  "12x1": {columns: null, rhythm: null, rowMm: 18},
};
const CALIBRATION_MM = 5;    // width of the calibration pulse (0.2 s at 25 mm/s)

function plan(model) {
  const names = model.leads.map((lead) => lead.name);
  const layout = LAYOUTS[model.layout] || LAYOUTS["3x4+1"];
  let columns = layout.columns && layout.columns.map((col) => col.filter((n) => names.includes(n)));
  if (!columns || columns.flat().length < names.length * 0.5) columns = [names];
  const rows = Math.max(...columns.map((c) => c.length));
  const rhythm = layout.rhythm && names.includes(layout.rhythm) && columns.length > 1 ? layout.rhythm : null;
  return {columns, rows: rows + (rhythm ? 1 : 0), rhythm, rowMm: layout.rowMm};
}

function draw(model, canvas, title) {
  const leads = new Map(model.leads.map((lead) => [lead.name, lead.values]));
  const count = Math.max(0, ...model.leads.map((lead) => lead.values.length));
  const seconds = count / model.sampling_rate;
  const p = plan(model);
  const paperMm = [CALIBRATION_MM + seconds * model.speed + 2, p.rows * p.rowMm];
  const cssWidth = Math.max(200, canvas.parentElement.clientWidth);
  const pxPerMm = cssWidth / paperMm[0];
  const ratio = window.devicePixelRatio || 1;
  canvas.style.width = `${cssWidth}px`;
  canvas.style.height = `${paperMm[1] * pxPerMm}px`;
  canvas.width = Math.round(cssWidth * ratio);
  canvas.height = Math.round(paperMm[1] * pxPerMm * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio * pxPerMm, 0, 0, ratio * pxPerMm, 0, 0);   // units: mm of paper
  ctx.fillStyle = "#fff7f7";
  ctx.fillRect(0, 0, paperMm[0], paperMm[1]);
  for (let mm = 0; mm <= Math.max(...paperMm); mm++) {
    ctx.strokeStyle = mm % 5 === 0 ? "#f0a0a0" : "#fadada";
    ctx.lineWidth = mm % 5 === 0 ? 0.15 : 0.07;
    ctx.beginPath();
    if (mm <= paperMm[0]) { ctx.moveTo(mm, 0); ctx.lineTo(mm, paperMm[1]); }
    if (mm <= paperMm[1]) { ctx.moveTo(0, mm); ctx.lineTo(paperMm[0], mm); }
    ctx.stroke();
  }
  const mmPerSample = model.speed / model.sampling_rate;
  const trace = (values, first, last, x0, baseline) => {
    ctx.beginPath();
    let pen = false;
    for (let i = first; i < last && i < values.length; i++) {
      const v = values[i];
      if (v === null || Number.isNaN(v)) { pen = false; continue; }
      const x = x0 + (i - first) * mmPerSample, y = baseline - v * model.gain;
      if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      pen = true;
    }
    ctx.stroke();
  };
  const drawn = [];
  ctx.font = "3px system-ui, sans-serif";
  const samplesPerColumn = Math.floor(count / p.columns.length);
  for (let row = 0; row < p.rows; row++) {
    const baseline = row * p.rowMm + p.rowMm * 0.6;
    ctx.strokeStyle = "#111";
    ctx.lineWidth = 0.25;
    ctx.beginPath();   // 1 mV calibration pulse
    ctx.moveTo(0.5, baseline);
    ctx.lineTo(1.5, baseline);
    ctx.lineTo(1.5, baseline - model.gain);
    ctx.lineTo(1.5 + CALIBRATION_MM * 0.6, baseline - model.gain);
    ctx.lineTo(1.5 + CALIBRATION_MM * 0.6, baseline);
    ctx.lineTo(CALIBRATION_MM, baseline);
    ctx.stroke();
    const isRhythm = p.rhythm && row === p.rows - 1;
    const names = isRhythm ? [p.rhythm] : p.columns.map((col) => col[row]);
    names.forEach((name, c) => {
      if (!name || !leads.has(name)) return;
      const first = isRhythm ? 0 : c * samplesPerColumn;
      const last = isRhythm ? count : first + samplesPerColumn;
      const x0 = CALIBRATION_MM + 1 + (first * mmPerSample);
      ctx.fillStyle = "#111";
      ctx.fillText(name, x0 + 0.5, row * p.rowMm + 4);
      trace(leads.get(name), first, last, x0, baseline);
      if (!drawn.includes(name)) drawn.push(name);
    });
  }
  return {drawn, seconds};
}

export function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "wb-ecg";
  const header = document.createElement("div");
  header.className = "wb-ecg-title";
  const legend = document.createElement("div");
  legend.className = "wb-ecg-legend";
  const canvas = document.createElement("canvas");
  canvas.className = "wb-ecg-canvas";
  root.append(header, canvas, legend);
  el.appendChild(root);
  const update = () => {
    header.replaceChildren(...model.title.map((t) => { const d = document.createElement("div"); d.textContent = t; return d; }));
    if (!model.leads.length) { legend.textContent = "No waveform."; return; }
    const {drawn, seconds} = draw(model, canvas, header);
    legend.textContent = `${model.speed} mm/s, ${model.gain} mm/mV, ${model.sampling_rate} Hz, ${seconds.toFixed(1)} s; grid 1 mm / 5 mm`;
    root.dataset.leads = drawn.join(",");
    if (drawn.join(",") !== model.drawn.join(",")) model.drawn = drawn;
  };
  for (const name of ["leads", "sampling_rate", "speed", "gain", "layout", "title"]) model.on(name, update);
  new ResizeObserver(() => update()).observe(root);
  update();
}

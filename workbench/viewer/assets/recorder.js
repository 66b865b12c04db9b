// Dictation recorder: the browser's microphone through MediaRecorder. When the reader
// stops, the clip goes to Python as base64 (model.audio, model.media_type) and
// model.clips counts up; Python uploads it to the archive.

function toBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

export function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "wb-recorder";
  const button = document.createElement("button");
  button.type = "button";
  const status = document.createElement("span");
  status.className = "wb-recorder-status";
  status.setAttribute("role", "status");
  root.append(button, status);
  el.appendChild(root);
  let recorder = null;
  let started = 0;
  let timer = null;

  const show = () => {
    button.textContent = model.recording ? "\u25a0 Stop recording" : "\u25cf Record dictation";
    if (model.error) status.textContent = model.error;
  };

  const start = async () => {
    if (!navigator.mediaDevices || !window.MediaRecorder) {
      model.error = "This browser cannot record here (it needs https or localhost).";
      show();
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({audio: true});
      const chunks = [];
      recorder = new MediaRecorder(stream);
      recorder.addEventListener("dataavailable", (event) => { if (event.data.size) chunks.push(event.data); });
      recorder.addEventListener("stop", async () => {
        stream.getTracks().forEach((track) => track.stop());
        clearInterval(timer);
        const blob = new Blob(chunks, {type: recorder.mimeType || "audio/webm"});
        status.textContent = `Recorded ${Math.round((Date.now() - started) / 1000)} s; uploading...`;
        model.media_type = blob.type.split(";")[0];
        model.audio = toBase64(await blob.arrayBuffer());
        model.clips = model.clips + 1;
        model.recording = false;
        show();
      });
      recorder.start(1000);
      started = Date.now();
      model.error = "";
      model.recording = true;
      timer = setInterval(() => {
        status.textContent = `Recording ${Math.round((Date.now() - started) / 1000)} s`;
      }, 500);
      show();
    } catch (error) {
      model.error = `Cannot record: ${error.message}`;
      show();
    }
  };

  button.addEventListener("click", () => {
    if (recorder && recorder.state === "recording") recorder.stop(); else start();
  });
  model.on("recording", show);
  model.on("error", show);
  show();
}

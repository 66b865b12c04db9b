// An encapsulated document fetched from WADO-RS bulk data (multipart/related) and shown
// in its native form: PDF inline, images and audio in their elements, others to download.

export function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "wb-document";
  el.appendChild(root);
  let objectUrl = null;
  const load = async () => {
    root.replaceChildren();
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = null;
    if (!model.url) return;
    const status = document.createElement("div");
    status.textContent = "Loading the document...";
    root.appendChild(status);
    try {
      const response = await fetch(model.url, {credentials: "same-origin",
        headers: Object.assign({Accept: 'multipart/related; type="application/octet-stream"'}, model.headers || {})});
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const [body] = multipartBodies(await response.arrayBuffer(), response.headers.get("content-type"));
      // An odd-length document is padded with one NUL byte (PS3.5 7.1): drop it for PDF.
      let bytes = new Uint8Array(body);
      if (model.media_type === "application/pdf" && bytes.length && bytes[bytes.length - 1] === 0) bytes = bytes.subarray(0, bytes.length - 1);
      objectUrl = URL.createObjectURL(new Blob([bytes], {type: model.media_type}));
      const link = document.createElement("a");
      link.href = objectUrl;
      link.download = model.filename;
      link.textContent = `Download ${model.filename} (${Math.ceil(bytes.length / 1024)} KB)`;
      let shown = null;
      if (model.media_type === "application/pdf") {
        shown = document.createElement("iframe");
        shown.title = model.filename;
      } else if (model.media_type.startsWith("image/")) {
        shown = document.createElement("img");
        shown.alt = model.filename;
      } else if (model.media_type.startsWith("audio/")) {
        shown = document.createElement("audio");
        shown.controls = true;
      }
      root.replaceChildren(link);
      if (shown) { shown.className = "wb-document-body"; shown.src = objectUrl; root.appendChild(shown); }
      root.dataset.size = String(bytes.length);
      root.dataset.head = new TextDecoder().decode(bytes.subarray(0, 5));
      model.size = bytes.length;
    } catch (error) {
      status.textContent = "Could not load the document: " + error.message;
      model.error = String(error.message);
    }
  };
  model.on("url", load);
  model.on("remove", () => { if (objectUrl) URL.revokeObjectURL(objectUrl); });
  load();
}

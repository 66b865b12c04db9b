// The study's key images as cards: the image's thumbnail with a "KEY" badge, its series
// and image number, and the note. A click sets model.selected (the entry's id) and counts
// model.clicks. Text goes in with textContent only.

export function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "wb-keys";
  el.appendChild(root);
  const update = () => {
    root.replaceChildren();
    root.dataset.count = String(model.entries.length);
    if (!model.entries.length) {
      const empty = document.createElement("div");
      empty.className = "wb-empty";
      empty.textContent = "No key images.";
      root.appendChild(empty);
      return;
    }
    for (const entry of model.entries) {
      const card = document.createElement("div");
      card.className = "wb-key-card";
      card.tabIndex = 0;
      card.dataset.id = entry.id;
      const img = document.createElement("img");
      img.alt = "";
      img.loading = "lazy";
      img.src = entry.thumbnail;
      const badge = document.createElement("div");
      badge.className = "wb-key-badge";
      badge.textContent = "KEY";
      const title = document.createElement("div");
      title.textContent = entry.title;
      const note = document.createElement("div");
      note.className = "wb-key-note";
      note.textContent = entry.note || "";
      card.append(img, badge, title, note);
      const choose = () => { model.selected = entry.id; model.clicks = model.clicks + 1; };
      card.addEventListener("click", choose);
      card.addEventListener("keydown", (e) => { if (e.key === "Enter") choose(); });
      root.appendChild(card);
    }
  };
  model.on("entries", update);
  update();
}

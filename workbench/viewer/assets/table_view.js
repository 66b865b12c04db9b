// Rows of text (a table or cards) with an optional thumbnail per row. Text goes into the
// page with textContent only; a click sets `selected` to the row's id.

function thumbnail(url, headers, badge) {
  if (!url) {
    const placeholder = document.createElement("div");
    placeholder.className = "wb-thumb wb-badge";
    placeholder.textContent = badge || "";
    return placeholder;
  }
  const img = document.createElement("img");
  img.className = "wb-thumb";
  img.alt = "";
  img.loading = "lazy";
  img.decoding = "async";
  if (headers && Object.keys(headers).length) {
    fetch(url, {headers}).then((r) => r.ok ? r.blob() : null).then((blob) => {
      if (blob) img.src = URL.createObjectURL(blob);
    });
  } else {
    img.src = url;
  }
  img.addEventListener("error", () => img.classList.add("wb-thumb-missing"));
  return img;
}

export function render({ model, el }) {
  const root = document.createElement("div");
  el.appendChild(root);
  let sortKey = null, ascending = true;
  const choose = (row) => {
    model.selected = row.id;
    model.clicks = model.clicks + 1;
  };
  const update = () => {
    root.className = model.mode === "cards" ? "wb-cards" : "wb-table";
    root.replaceChildren();
    if (!model.rows.length) {
      const empty = document.createElement("div");
      empty.className = "wb-empty";
      empty.textContent = model.empty;
      root.appendChild(empty);
      return;
    }
    let rows = model.rows.slice();
    if (sortKey) {
      rows.sort((a, b) => String(a[sortKey] ?? "").localeCompare(String(b[sortKey] ?? ""), undefined, {numeric: true}));
      if (!ascending) rows.reverse();
    }
    const withThumbs = rows.some((r) => "thumbnail" in r);
    if (model.mode === "table") {
      const table = document.createElement("table");
      const head = table.createTHead().insertRow();
      if (withThumbs) head.appendChild(document.createElement("th"));
      for (const column of model.columns) {
        const th = document.createElement("th");
        th.textContent = column.label + (sortKey === column.key ? (ascending ? " \u25b2" : " \u25bc") : "");
        th.addEventListener("click", () => {
          ascending = sortKey === column.key ? !ascending : true;
          sortKey = column.key;
          update();
        });
        head.appendChild(th);
      }
      const body = table.createTBody();
      for (const row of rows) {
        const tr = body.insertRow();
        tr.className = "wb-row" + (row.id === model.selected ? " wb-selected" : "");
        tr.dataset.id = row.id;
        tr.tabIndex = 0;
        if (withThumbs) tr.insertCell().appendChild(thumbnail(row.thumbnail, model.headers, row.badge));
        for (const column of model.columns) tr.insertCell().textContent = String(row[column.key] ?? "");
        tr.addEventListener("click", () => choose(row));
        tr.addEventListener("keydown", (e) => { if (e.key === "Enter") choose(row); });
      }
      root.appendChild(table);
      return;
    }
    for (const row of rows) {
      const card = document.createElement("div");
      card.className = "wb-card wb-row" + (row.id === model.selected ? " wb-selected" : "");
      card.dataset.id = row.id;
      card.tabIndex = 0;
      if (withThumbs) card.appendChild(thumbnail(row.thumbnail, model.headers, row.badge));
      for (const column of model.columns) {
        const line = document.createElement("div");
        line.className = "wb-card-" + column.key;
        line.textContent = String(row[column.key] ?? "");
        card.appendChild(line);
      }
      card.addEventListener("click", () => choose(row));
      card.addEventListener("keydown", (e) => { if (e.key === "Enter") choose(row); });
      root.appendChild(card);
    }
  };
  for (const name of ["rows", "columns", "mode", "selected", "empty"]) model.on(name, update);
  update();
}

// The hanging protocol's stage bar: protocol name, "stage n/N: name", previous / next
// buttons, and the keyboard: "]" next stage, "[" previous (not while typing in a field).
// Setting model.stage (zero-based) tells Python to show that stage. Text goes in with
// textContent only.

function typing(target) {
  const tag = (target && target.tagName) || "";
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
}

export function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "wb-stage-bar";
  const name = document.createElement("span");
  name.className = "wb-protocol-name";
  const back = document.createElement("button");
  back.textContent = "\u25c0";
  back.title = "Previous stage ([)";
  back.setAttribute("aria-label", "previous stage");
  const count = document.createElement("span");
  count.className = "wb-stage-count";
  const stage = document.createElement("span");
  stage.className = "wb-stage-name";
  const next = document.createElement("button");
  next.textContent = "\u25b6";
  next.title = "Next stage (])";
  next.setAttribute("aria-label", "next stage");
  root.append(name, back, count, stage, next);
  el.appendChild(root);

  const go = (delta) => {
    const n = model.stages;
    if (n > 1) model.stage = (model.stage + delta + n) % n;
  };
  const update = () => {
    root.hidden = !model.protocol;
    name.textContent = model.protocol + (model.own ? " (mine)" : "");
    count.textContent = model.stages ? `stage ${model.stage + 1}/${model.stages}` : "";
    stage.textContent = model.stage_name;
    back.disabled = next.disabled = model.stages < 2;
    root.dataset.stage = String(model.stage);
  };
  back.addEventListener("click", () => go(-1));
  next.addEventListener("click", () => go(1));
  const keys = (event) => {
    if (event.defaultPrevented || typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "]") { event.preventDefault(); go(1); }
    else if (event.key === "[") { event.preventDefault(); go(-1); }
  };
  document.addEventListener("keydown", keys);
  for (const p of ["protocol", "own", "stage", "stages", "stage_name"]) model.on(p, update);
  model.on("remove", () => document.removeEventListener("keydown", keys));
  update();
}

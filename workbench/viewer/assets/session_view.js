// Log in (POST /api/auth/login sets the HttpOnly session cookie, then the page reloads)
// and log out (POST /api/auth/logout with the CSRF token of the wb_csrf cookie). Both go
// under the archive's path prefix, model.root ("" at /, e.g. "/services/archive").

function archiveUrl(model, path) {
  return (model.root || "").replace(/\/+$/, "") + path;
}

function csrfToken() {
  const found = document.cookie.split(";").map((c) => c.trim()).find((c) => c.startsWith("wb_csrf="));
  return found ? decodeURIComponent(found.slice("wb_csrf=".length)) : "";
}

function loginForm(model, root) {
  const form = document.createElement("form");
  form.className = "wb-login";
  const title = document.createElement("h2");
  title.textContent = "Log in to read";
  const field = (label, type, autocomplete) => {
    const wrap = document.createElement("label");
    wrap.textContent = label;
    const input = document.createElement("input");
    input.type = type;
    input.required = true;
    input.autocomplete = autocomplete;
    input.name = type === "password" ? "password" : "email";
    wrap.appendChild(input);
    form.appendChild(wrap);
    return input;
  };
  form.appendChild(title);
  const email = field("E-mail", "email", "username");
  const password = field("Password", "password", "current-password");
  const button = document.createElement("button");
  button.type = "submit";
  button.textContent = "Log in";
  const message = document.createElement("div");
  message.className = "wb-login-message";
  message.setAttribute("role", "status");
  message.textContent = model.message;
  form.append(button, message);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      const response = await fetch(archiveUrl(model, "/api/auth/login"), {method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify({email: email.value, password: password.value})});
      if (response.ok) { window.location.reload(); return; }
      const answer = await response.json().catch(() => ({}));
      message.textContent = answer.detail || `HTTP ${response.status}`;
    } catch (error) {
      message.textContent = error.message;
    }
    button.disabled = false;
  });
  root.appendChild(form);
}

function accountBar(model, root) {
  const who = document.createElement("span");
  who.className = "wb-who";
  who.textContent = model.email;
  const button = document.createElement("button");
  button.textContent = "Log out";
  button.className = "wb-logout";
  button.addEventListener("click", async () => {
    await fetch(archiveUrl(model, "/api/auth/logout"), {method: "POST", credentials: "same-origin",
      headers: {"X-CSRF-Token": csrfToken()}});
    window.location.assign(window.location.pathname);
  });
  root.className = "wb-account";
  root.append(who, button);
}

export function render({ model, el }) {
  const root = document.createElement("div");
  el.appendChild(root);
  const update = () => {
    root.replaceChildren();
    if (model.mode === "login") loginForm(model, root); else accountBar(model, root);
  };
  model.on("mode", update);
  model.on("email", update);
  update();
}

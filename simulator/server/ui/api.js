// Calls to the admin API. The page's credentials travel in its cookie (same origin only);
// bodies are JSON (or YAML for scenario files), never a form encoding (server/auth.py).

export class ApiError extends Error {
  constructor(message, status, problems) {
    super(message);
    this.status = status;
    this.problems = problems || [];
  }
}

async function call(method, path, body, type) {
  const options = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = type || "application/json";
    options.body = type ? body : JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const text = await response.text();
  let data = text;
  if ((response.headers.get("Content-Type") || "").startsWith("application/json")) {
    data = text ? JSON.parse(text) : null;
  }
  if (!response.ok) {
    const message = data && data.error ? data.error : `${method} ${path}: HTTP ${response.status}`;
    throw new ApiError(message, response.status, data && data.problems);
  }
  return data;
}

export const api = {
  get: (path) => call("GET", path),
  post: (path, body) => call("POST", path, body === undefined ? {} : body),
  put: (path, body) => call("PUT", path, body),
  del: (path) => call("DELETE", path),
  yaml: (method, path, text) => call(method, path, text, "application/yaml"),
};

export function query(values) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, value);
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

export function showError(error) {
  const box = document.getElementById("error");
  if (!error) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  box.textContent = error.message || String(error);
  box.hidden = false;
}

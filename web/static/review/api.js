// JSON requests with the CSRF token in a header (Flask-WTF reads X-CSRFToken).

const token = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

export async function postJSON(url, body, { keepalive = false } = {}) {
  const resp = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    keepalive,
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      "X-CSRFToken": token(),
    },
    body: JSON.stringify(body),
  });
  let data = null;
  try {
    data = await resp.json();
  } catch {
    data = null;
  }
  return { ok: resp.ok, status: resp.status, data };
}

export async function getJSON(url) {
  const resp = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!resp.ok) return { ok: false, status: resp.status, data: null };
  try {
    return { ok: true, status: resp.status, data: await resp.json() };
  } catch {
    return { ok: false, status: resp.status, data: null };
  }
}

// Build an element; text is always set with textContent, never parsed as HTML.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-") || key.startsWith("aria-") || key === "role" ||
             key === "title" || key === "type" || key === "tabindex" || key === "draggable" ||
             key === "id" || key === "href" || key === "hidden") node.setAttribute(key, value === true ? "" : String(value));
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

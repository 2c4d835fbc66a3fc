// Generic helpers every page script imports: JSON requests with the CSRF token
// (Flask-WTF reads X-CSRFToken), the last save as a page unloads, and building DOM
// nodes whose text is always set with textContent.

const token = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

export async function postJSON(url, body) {
  const resp = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
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

// Browsers refuse keepalive fetches and beacons whose queued bodies pass 64 KiB in all.
const UNLOAD_MAX_BYTES = 60 * 1024;

function beacon(url, body) {
  // a form, because a beacon cannot set headers: the CSRF token travels as csrf_token
  const form = new URLSearchParams({ csrf_token: token(), payload: JSON.stringify(body) });
  if (form.toString().length > UNLOAD_MAX_BYTES || !navigator.sendBeacon) return false;
  return navigator.sendBeacon(url, form);
}

function synchronousPost(url, body) {
  try {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url, false);
    xhr.setRequestHeader("Content-Type", "application/json");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", token());
    xhr.send(JSON.stringify(body));
    return xhr.status >= 200 && xhr.status < 300;
  } catch {
    return false; // browsers may refuse synchronous requests while a page unloads
  }
}

// The last save as the page goes away: a beacon when the body is small enough,
// otherwise a synchronous request as a best effort, and if that is refused at least
// the active seconds (body.draft dropped) in a beacon. Never retried, never rescheduled.
export function postOnUnload(url, body) {
  if (beacon(url, body) || synchronousPost(url, body)) return true;
  if (body.draft !== null && body.draft !== undefined) beacon(url, { ...body, draft: null });
  return false;
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

// A length counter under a text field ("120 / 5,000"); over the limit it says by how
// much and marks the field, and nothing is ever cut: the limit is the server's rule,
// shown, never applied silently. data-unit="bytes" counts UTF-8 bytes.
const encoder = new TextEncoder();
export function lengthOf(field) {
  return field.dataset.unit === "bytes" ? encoder.encode(field.value).length : field.value.length;
}

export function overBy(field) {
  const max = Number(field.dataset.max || 0);
  return max ? Math.max(lengthOf(field) - max, 0) : 0;
}

export function attachCounter(field, counter) {
  const max = Number(field.dataset.max || 0);
  if (!max || !counter) return () => {};
  const unit = field.dataset.unit === "bytes" ? " bytes" : "";
  const paint = () => {
    const n = lengthOf(field);
    const over = n - max;
    counter.textContent = over > 0
      ? `${n.toLocaleString("en")} / ${max.toLocaleString("en")}${unit}: ${over.toLocaleString("en")} over the limit, shorten it`
      : `${n.toLocaleString("en")} / ${max.toLocaleString("en")}${unit}`;
    counter.dataset.state = over > 0 ? "over" : n > max * 0.9 ? "near" : "ok";
    field.classList.toggle("over-limit", over > 0);
    field.setAttribute("aria-invalid", over > 0 ? "true" : "false");
  };
  field.addEventListener("input", paint);
  paint();
  return paint;
}

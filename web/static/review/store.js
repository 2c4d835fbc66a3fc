// The review page's state and its one channel to the server: autosave, heartbeat, submit
// and the unload beacon all go through `request`, one at a time, and every body names
// the draft revision the state is based on and this page's id. A save the server finds
// stale (another tab or window saved since) is a 409: this page then stops saving, says
// so and offers a reload; it never claims "Draft saved" for a save that was refused.
// Changes a refused or unanswered save could not store are kept in this tab (session
// storage) until a save stores them, so a reload (which a refused CSRF token or an ended
// session asks for) offers them back instead of losing them.

import { postJSON, postOnUnload } from "../lib.js";

const SAVE_DELAY_MS = 1000;
const LEASE_WARN_S = 5 * 60;

function pageId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export function clock(seconds) {
  const s = Math.max(Math.floor(seconds || 0), 0);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export class Store {
  constructor(data) {
    const draft = data.draft || {};
    this.urls = data.urls;
    this.state = {
      findings: Array.isArray(draft.findings) ? draft.findings : [],
      scores: draft.scores && typeof draft.scores === "object" ? draft.scores : {},
      ranking: Array.isArray(draft.ranking) ? draft.ranking : [],
      rationale: typeof draft.rationale === "string" ? draft.rationale : "",
      confidence: Number.isInteger(draft.confidence) ? draft.confidence : null,
      hint_verdicts: draft.hint_verdicts && typeof draft.hint_verdicts === "object" ? draft.hint_verdicts : {},
    };
    this.assignment = data.assignment;
    this.page = pageId();
    this.revision = data.revision || 0; // the server's draft revision this state is based on
    this.submittedRevision = data.submitted_revision || 0;
    this.version = data.versions || 0; // the latest submitted version
    this.changes = 0; // counts local changes, so a reply can tell whether it saw the latest
    this.dirty = false;
    this.stale = false;
    this.refused = false; // the last save was refused or not answered: changes are stashed
    this.inflight = null;
    this.unloading = false;
    this.timer = null;
    this.pendingActive = 0; // active seconds not yet sent
    this.onWarnings = () => {};
    this.onSaved = () => {};
    this.status = document.getElementById("save-status");
    this.banner = document.getElementById("unsubmitted");
    this.lease = new LeaseClock(document.getElementById("lease"), data.lease_seconds_left, () => this.renew());
    this.handedOver = this.takeHandoff();
    this.paintBanner();
  }

  // --- a reload or Back in this tab: the page before hands over to the next one ---------
  // The page going away sends its last changes in a beacon, which the browser may send
  // after it has asked for the next page: that page can then be rendered from the draft
  // before them. So the leaving page also leaves its id, revision and unsaved state in
  // this tab, and the next page of the same assignment takes them: it saves as the same
  // writer (not refused as another tab's), and starts from the unsaved state if the draft
  // it was rendered from is the one that state was based on. Taken once, so a duplicated
  // tab never shares an id with a live page.

  get handoffKey() {
    return `review.handoff.${this.assignment}`;
  }

  handOff() {
    const state = this.dirty ? this.state : null;
    try {
      sessionStorage.setItem(this.handoffKey, JSON.stringify({ page: this.page, revision: this.revision, state }));
    } catch {
      // storage refused: the next page is a new writer, as without a handoff
    }
  }

  dropHandoff() {
    try {
      sessionStorage.removeItem(this.handoffKey);
    } catch {
      // nothing to drop
    }
  }

  takeHandoff() {
    let handoff = null;
    try {
      handoff = JSON.parse(sessionStorage.getItem(this.handoffKey) || "null");
    } catch {
      handoff = null;
    }
    this.dropHandoff();
    if (!handoff || typeof handoff.page !== "string") return false;
    this.page = handoff.page;
    const state = handoff.state;
    if (!state || typeof state !== "object" || handoff.revision !== this.revision) return false;
    if (JSON.stringify(state) === JSON.stringify(this.state)) return false;
    this.state = { ...this.state, ...state };
    this.dirty = true;
    return true;
  }

  changed() {
    this.dirty = true;
    this.changes += 1;
    this.paintBanner();
    if (this.stale) {
      this.stash("stale");
      return this.paintStale();
    }
    if (this.refused) this.stash("refused");
    this.setStatus("dirty", "Unsaved changes…");
    this.rearm(SAVE_DELAY_MS);
  }

  rearm(delay = SAVE_DELAY_MS) {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.unloading || this.stale) return;
    this.timer = setTimeout(() => this.save(), delay);
  }

  setStatus(state, text) {
    this.status.dataset.state = state;
    this.status.textContent = text;
  }

  takeActive() {
    const seconds = this.pendingActive;
    this.pendingActive = 0;
    return seconds;
  }

  // One request at a time; the body is built when it is sent, with the revision then current.
  async request(url, makeBody) {
    while (this.inflight) await this.inflight.catch(() => {});
    const pending = (async () => {
      try {
        return await postJSON(url, makeBody());
      } catch {
        return { ok: false, status: 0, data: null };
      }
    })();
    this.inflight = pending;
    try {
      return await pending;
    } finally {
      if (this.inflight === pending) this.inflight = null;
    }
  }

  body(draft, active, extra = {}) {
    return { draft, active_seconds: active, revision: this.revision, page: this.page, ...extra };
  }

  // A reply to a request that carried the draft: the server's revision is ours now.
  adopt(data) {
    if (typeof data.revision === "number") this.revision = data.revision;
    if (typeof data.submitted_revision === "number") this.submittedRevision = data.submitted_revision;
    if (typeof data.version === "number") this.version = Math.max(this.version, data.version);
    if ("lease_seconds_left" in data) this.lease.set(data.lease_seconds_left);
    this.paintBanner();
  }

  isStaleReply(result) {
    return result.status === 409 && result.data?.error?.code === "stale_draft";
  }

  async save() {
    if (this.unloading || this.stale) return;
    if (this.inflight) return this.rearm(300);
    const sendDraft = this.dirty;
    const changes = this.changes;
    let active = 0;
    const result = await this.request(this.urls.draft, () => {
      active = this.takeActive();
      return this.body(sendDraft ? this.state : null, active);
    });
    if (this.isStaleReply(result)) return this.markStale();
    if (!result.ok) {
      this.pendingActive += active;
      if (result.status !== 409) { // a 409 (skipped, lease taken) no reload can help
        this.refused = true;
        if (this.dirty) this.stash("refused");
      }
      const msg = result.data?.error?.message;
      if (result.status === 400 || result.status === 409) {
        this.setStatus("error", `Not saved: ${msg || "refused"}`); // fixed by the next change
        return;
      }
      this.setStatus("error", msg ? `Not saved: ${msg}. Retrying…` : "Not saved: the server did not answer. Retrying…");
      this.rearm(5000);
      return;
    }
    if (typeof result.data.lease_seconds_left !== "undefined") this.lease.set(result.data.lease_seconds_left);
    this.onSaved(result.data);
    if (!sendDraft) {
      if (result.data.stale) this.markStale();
      return;
    }
    this.adopt(result.data);
    if (this.changes === changes) this.dirty = false;
    else this.rearm();
    if (this.refused && !this.dirty) {
      this.refused = false;
      if (this.stashed()?.page === this.page) this.dropStash(); // stored now
    }
    const at = new Date(result.data.saved_at);
    this.setStatus(this.dirty ? "dirty" : "saved", `Draft saved ${at.toLocaleTimeString()}`);
    this.onWarnings(result.data.warnings || []);
  }

  // Submit: the draft as it is now, with the revision it is based on.
  async submit(acknowledge) {
    clearTimeout(this.timer);
    const changes = this.changes;
    let active = 0;
    const result = await this.request(this.urls.submit, () => {
      active = this.takeActive();
      return this.body(this.state, active, { acknowledge_warnings: acknowledge });
    });
    if (this.isStaleReply(result)) {
      this.markStale();
      return { stale: true, result };
    }
    if (!result.ok && result.status !== 422) {
      this.pendingActive += active;
      if (this.dirty) this.rearm();
      return { result };
    }
    // accepted or not, the server kept the draft as sent (and renewed the lease)
    this.adopt(result.data || {});
    if (this.changes === changes) this.dirty = false;
    else this.rearm();
    this.paintBanner();
    return { result };
  }

  renew() {
    if (!this.stale && !this.unloading && !this.inflight) this.save();
  }

  markStale() {
    this.stale = true;
    if (this.dirty) this.stash("stale");
    clearTimeout(this.timer);
    this.timer = null;
    const banner = document.getElementById("stale-banner");
    banner.hidden = false;
    this.paintStale();
    document.getElementById("submit").disabled = true;
  }

  paintStale() {
    this.setStatus("error", "Not saved: this task is open in another tab or window");
  }

  // --- what this page could not save: kept in this tab, offered after the reload --------

  get stashKey() {
    return `review.unsaved.${this.assignment}`;
  }

  // reason: "stale" (another page saved since) or "refused" (the server refused or did
  // not answer); revision: the draft the changes are based on
  stash(reason) {
    try {
      sessionStorage.setItem(this.stashKey, JSON.stringify({
        at: Date.now(), state: this.state, reason, revision: this.revision, page: this.page,
      }));
    } catch {
      // storage full or refused: the stale page itself still shows the changes
    }
  }

  stashed() {
    try {
      const raw = JSON.parse(sessionStorage.getItem(this.stashKey) || "null");
      return raw && raw.state && typeof raw.state === "object" ? raw : null;
    } catch {
      return null;
    }
  }

  dropStash() {
    sessionStorage.removeItem(this.stashKey);
  }

  // Add a stale page's changes to the newest draft without taking anything away from it:
  // findings it lacks are appended, empty answers filled, a different rationale appended.
  mergeStash(old) {
    const now = this.state;
    const ids = new Set(now.findings.map((f) => f.id));
    const added = (old.findings || []).filter((f) => f && !ids.has(f.id));
    now.findings.push(...added);
    for (const [cand, row] of Object.entries(old.scores || {})) {
      const mine = (now.scores[cand] ||= {});
      for (const [key, value] of Object.entries(row || {})) if (!(key in mine)) mine[key] = value;
    }
    for (const [cand, row] of Object.entries(old.hint_verdicts || {})) {
      const mine = (now.hint_verdicts[cand] ||= {});
      for (const [key, value] of Object.entries(row || {})) if (!(key in mine)) mine[key] = value;
    }
    if (!now.ranking.length && Array.isArray(old.ranking)) now.ranking = old.ranking;
    if (now.confidence === null && Number.isInteger(old.confidence)) now.confidence = old.confidence;
    const text = typeof old.rationale === "string" ? old.rationale.trim() : "";
    if (text && !now.rationale.includes(text)) {
      now.rationale = now.rationale.trim() ? `${now.rationale.trim()}\n\n${text}` : text;
    }
    return added.length;
  }

  // "Changes since version N, not submitted": edits after a submission are never shown as
  // if they were part of it.
  paintBanner() {
    const show = this.version > 0 && (this.dirty || this.revision !== this.submittedRevision);
    this.banner.hidden = !show;
    if (show) {
      this.banner.textContent = `Changes since version ${this.version}, not submitted. ` +
        `Submit again to record them as version ${this.version + 1}.`;
    }
  }

  // The page is going away: send what is left once, and never schedule anything again.
  flushOnUnload() {
    if (!this.unloading && !this.stale) this.handOff(); // once: beforeunload, then pagehide
    this.unloading = true;
    clearTimeout(this.timer);
    this.timer = null;
    const draft = this.dirty && !this.stale ? this.state : null;
    if (draft === null && this.pendingActive <= 0) return;
    if (postOnUnload(this.urls.draft, this.body(draft, this.pendingActive))) {
      if (draft !== null) this.dirty = false;
      this.pendingActive = 0;
    }
  }
}

// The lease countdown in the toolbar: a warning in its last minutes, and a renewal when
// the annotator is active then (any save renews it; so does the heartbeat).
class LeaseClock {
  constructor(node, seconds, renew) {
    this.node = node;
    this.renew = renew;
    this.lastInput = Date.now();
    this.renewedAt = 0;
    for (const type of ["keydown", "mousedown", "wheel", "input"]) {
      window.addEventListener(type, () => { this.lastInput = Date.now(); }, { passive: true, capture: true });
    }
    this.set(seconds);
    setInterval(() => this.tick(), 1000);
  }

  set(seconds) {
    this.end = typeof seconds === "number" ? Date.now() + seconds * 1000 : null;
    this.tick();
  }

  tick() {
    if (!this.node) return;
    if (this.end === null) {
      this.node.hidden = true;
      return;
    }
    const left = Math.max((this.end - Date.now()) / 1000, 0);
    this.node.hidden = false;
    if (left <= 0) {
      this.node.dataset.state = "lapsed";
      this.node.textContent = "Lease lapsed: others may take this task. Any change tries to renew it.";
    } else if (left <= LEASE_WARN_S) {
      this.node.dataset.state = "warn";
      this.node.textContent = `Lease ends in ${clock(left)}; any change renews it`;
      const active = Date.now() - this.lastInput < 60000;
      if (active && Date.now() - this.renewedAt > 30000) {
        this.renewedAt = Date.now();
        this.renew();
      }
    } else {
      this.node.dataset.state = "ok";
      this.node.textContent = `lease ${clock(left)}`;
    }
  }
}

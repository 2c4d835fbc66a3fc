// Line selection in the code (click, shift-click, keyboard), the finding form,
// the findings list per candidate, and their marks in the gutter.

import { attachCounter, el, overBy } from "../lib.js";

const CLAMP_LINES = 4;

export class Findings {
  constructor(store, data) {
    this.store = store;
    this.data = data;
    this.categories = Object.fromEntries(data.rubric.categories.map((c) => [c.key, c]));
    this.letters = Object.fromEntries(data.candidates.map((c) => [String(c.id), c.letter]));
    this.sel = null; // {cand, path, anchor, start, end}
    this.editing = null; // finding id being edited, or "new"
    for (const scroll of document.querySelectorAll(".code-scroll")) this.wireCode(scroll);
    for (const article of document.querySelectorAll(".candidate")) {
      article.querySelector(".add-finding").addEventListener("click", () => this.openForm());
      article.querySelector(".clear-selection").addEventListener("click", () => this.clearSelection());
    }
    this.render();
  }

  wireCode(scroll) {
    scroll.addEventListener("click", (ev) => {
      const row = ev.target.closest("tr[data-line]");
      if (!row || ev.target.closest(".hint-marker")) return;
      if (!ev.target.closest("td.ln") && !ev.target.closest("td.gutter") && window.getSelection()?.toString()) return;
      const line = Number(row.dataset.line);
      this.select(scroll, line, ev.shiftKey);
      scroll.focus({ preventScroll: true });
    });
    scroll.addEventListener("keydown", (ev) => this.onCodeKey(ev, scroll));
  }

  onCodeKey(ev, scroll) {
    const max = scroll.querySelectorAll("tr[data-line]").length;
    const mine = this.sel && this.sel.scroll === scroll;
    const cursor = mine ? this.sel.cursor : 0;
    let next = null;
    if (ev.key === "ArrowDown" || ev.key === "j" || ev.key === "J") next = Math.min(cursor + 1, max);
    else if (ev.key === "ArrowUp" || ev.key === "k" || ev.key === "K") next = Math.max(cursor - 1, 1);
    else if ((ev.key === "Enter" || ev.key === "f") && mine) {
      ev.preventDefault();
      this.openForm();
      return;
    } else if (ev.key === "Escape" && mine) {
      this.clearSelection();
      return;
    }
    if (next !== null) {
      ev.preventDefault();
      ev.stopPropagation();
      this.select(scroll, next || 1, ev.shiftKey, true);
    }
  }

  select(scroll, line, extend, keyboard = false) {
    const cand = scroll.dataset.candidate;
    const path = scroll.dataset.path;
    if (extend && this.sel && this.sel.scroll === scroll) {
      const anchor = this.sel.anchor;
      this.sel = { ...this.sel, start: Math.min(anchor, line), end: Math.max(anchor, line), cursor: line };
    } else {
      this.sel = { scroll, cand, path, anchor: line, start: line, end: line, cursor: line };
    }
    this.paintSelection();
    if (keyboard) {
      const row = scroll.querySelector(`tr[data-line="${line}"]`);
      row?.scrollIntoView({ block: "nearest" });
    }
  }

  clearSelection() {
    this.sel = null;
    this.paintSelection();
  }

  paintSelection() {
    for (const row of document.querySelectorAll("tr.selected, tr.cursor")) row.classList.remove("selected", "cursor");
    for (const bar of document.querySelectorAll(".selection-bar")) bar.hidden = true;
    if (!this.sel) return;
    const { scroll, start, end, cursor } = this.sel;
    for (const row of scroll.querySelectorAll("tr[data-line]")) {
      const n = Number(row.dataset.line);
      if (n >= start && n <= end) row.classList.add("selected");
      if (n === cursor) row.classList.add("cursor");
    }
    const bar = scroll.closest(".candidate").querySelector(".selection-bar");
    bar.hidden = false;
    bar.querySelector(".selection-text").textContent =
      start === end ? `Line ${start} of ${this.sel.path}` : `Lines ${start}–${end} of ${this.sel.path}`;
  }

  // --- the form -------------------------------------------------------------------------

  // existing: a finding to edit; prefill: a new finding's target and fields (from a hint)
  openForm(existing = null, prefill = null) {
    const target = existing
      ? { cand: String(existing.candidate_id), path: existing.file_path, start: existing.line_start, end: existing.line_end }
      : prefill || (this.sel && { cand: this.sel.cand, path: this.sel.path, start: this.sel.start, end: this.sel.end });
    if (!target) return;
    const opener = document.activeElement; // the keyboard goes back there if nothing else fits
    this.closeForm();
    const article = document.querySelector(`.candidate[data-candidate="${target.cand}"]`);
    const slot = article.querySelector(".finding-form-slot");
    const form = document.getElementById("finding-form-template").content.firstElementChild.cloneNode(true);
    const range = target.start === target.end ? `line ${target.start}` : `lines ${target.start}–${target.end}`;
    form.querySelector(".ff-title").textContent =
      `${existing ? "Edit finding" : "New finding"} on candidate ${this.letters[target.cand]}, ${target.path} ${range}`;
    const category = form.elements.category;
    const cweField = form.querySelector(".cwe-field");
    const syncCwe = () => {
      cweField.hidden = !this.categories[category.value]?.cwe;
    };
    category.addEventListener("change", syncCwe);
    const fill = existing || prefill;
    if (fill) {
      if (fill.category) category.value = fill.category;
      form.elements.severity.value = fill.severity || "";
      form.elements.cwe.value = fill.cwe ? this.cweLabel(fill.cwe) : "";
      form.elements.comment.value = fill.comment || "";
    }
    syncCwe();
    this.onSaved = prefill?.onSave || null;
    attachCounter(form.elements.comment, form.querySelector(".ff-counter"));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.saveForm(form, target, existing);
    });
    form.querySelector(".ff-cancel").addEventListener("click", () => this.closeForm(true));
    form.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") {
        ev.stopPropagation();
        this.closeForm(true);
      }
    });
    slot.append(form);
    this.formScroll = existing ? null : this.sel?.scroll;
    this.formReturn = { id: existing?.id ?? null, opener };
    category.focus();
  }

  cweLabel(id) {
    const hit = this.data.cwes.find(([n]) => n === id);
    return hit ? `CWE-${hit[0]}: ${hit[1]}` : `CWE-${id}`;
  }

  saveForm(form, target, existing) {
    const error = form.querySelector(".ff-error");
    const category = form.elements.category.value;
    const severity = form.elements.severity.value;
    if (!category || !severity) {
      error.textContent = "Choose a category and a severity.";
      return;
    }
    const over = overBy(form.elements.comment);
    if (over) {
      error.textContent = `The comment is ${over} characters over the limit; shorten it (nothing is cut for you).`;
      form.elements.comment.focus();
      return;
    }
    let cwe = null;
    if (this.categories[category]?.cwe) {
      const raw = form.elements.cwe.value.trim();
      if (raw) {
        const m = raw.match(/^(?:CWE-)?(\d{1,4})\b/i);
        if (!m) {
          error.textContent = "Pick a CWE from the list, or type its number.";
          return;
        }
        cwe = Number(m[1]);
      }
    }
    const finding = {
      id: existing ? existing.id : `f${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`,
      candidate_id: Number(target.cand),
      file_path: target.path,
      line_start: target.start,
      line_end: target.end,
      category,
      severity,
      cwe,
      comment: form.elements.comment.value,
    };
    const list = this.store.state.findings;
    const at = existing ? list.findIndex((f) => f.id === existing.id) : -1;
    if (at >= 0) list[at] = finding;
    else list.push(finding);
    const saved = this.onSaved;
    const back = this.formBack();
    this.closeForm();
    saved?.(finding);
    this.clearSelection();
    this.render();
    this.store.changed();
    back();
  }

  closeForm(refocus = false) {
    const back = refocus ? this.formBack() : null;
    for (const form of document.querySelectorAll(".finding-form-slot .finding-form")) form.remove();
    back?.();
  }

  // Where the keyboard goes when the form closes: the code it was opened from, else the
  // finding it edited (its list item is drawn anew), else the button that opened it.
  formBack() {
    const scroll = this.formScroll;
    const { id, opener } = this.formReturn || {};
    return () => {
      if (scroll) scroll.focus({ preventScroll: true });
      else if (id) this.focusFinding(id);
      else if (opener?.isConnected) opener.focus();
    };
  }

  focusFinding(id) {
    document.querySelector(`li.finding[data-finding="${CSS.escape(id)}"] .finding-actions button`)?.focus();
  }

  // --- list and gutter ------------------------------------------------------------------

  render() {
    const all = this.store.state.findings;
    for (const row of document.querySelectorAll("tr.has-finding")) {
      row.classList.remove("has-finding", "fsev-low", "fsev-medium", "fsev-high", "fsev-critical");
      row.removeAttribute("title");
    }
    for (const article of document.querySelectorAll(".candidate")) {
      const cand = article.dataset.candidate;
      const ul = article.querySelector("ul.findings");
      ul.replaceChildren();
      const mine = all.filter((f) => String(f.candidate_id) === cand);
      if (!mine.length) ul.append(el("li", { class: "muted none", text: "none yet" }));
      for (const f of mine) {
        const range = f.line_start === f.line_end ? `line ${f.line_start}` : `lines ${f.line_start}–${f.line_end}`;
        const cat = this.categories[f.category]?.label || f.category;
        const jump = el("button", { type: "button", class: "link-button", text: `${f.file_path} ${range}` });
        jump.addEventListener("click", () => this.reveal(f));
        const edit = el("button", { type: "button", class: "secondary small", text: "Edit", "aria-label": `Edit finding on ${range}` });
        edit.addEventListener("click", () => this.openForm(f));
        const del = el("button", { type: "button", class: "secondary small", text: "Delete", "aria-label": `Delete finding on ${range}` });
        del.addEventListener("click", () => {
          const at = mine.indexOf(f);
          const next = mine[at + 1] || mine[at - 1];
          this.store.state.findings = this.store.state.findings.filter((x) => x.id !== f.id);
          this.render();
          this.store.changed();
          // the keyboard stays in the list (the next finding), else goes to the code
          if (next) this.focusFinding(next.id);
          else [...article.querySelectorAll(".code-scroll")].find((x) => x.offsetParent !== null)?.focus();
        });
        ul.append(
          el("li", { class: `finding fsev-${f.severity}`, "data-finding": f.id },
            el("div", { class: "finding-head" }, jump,
              el("span", { class: `sev sev-${f.severity}`, text: f.severity }),
              el("span", { class: "cat", text: cat }),
              f.cwe ? el("span", { class: "cwe", text: `CWE-${f.cwe}` }) : null),
            this.comment(f),
            el("div", { class: "finding-actions" }, edit, del)),
        );
        const scroll = article.querySelector(`.code-scroll[data-path="${CSS.escape(f.file_path)}"]`);
        if (!scroll) continue;
        for (let n = f.line_start; n <= f.line_end; n++) {
          const row = scroll.querySelector(`tr[data-line="${n}"]`);
          if (!row) continue;
          row.classList.add("has-finding", `fsev-${f.severity}`);
          row.title = `${cat} (${f.severity})${f.comment ? ": " + f.comment : ""}`;
        }
      }
    }
  }

  // A long comment is clamped to a few lines with a "more" button, so one finding never
  // stretches its column.
  comment(f) {
    const text = el("div", { class: "comment clamped", text: f.comment || "" });
    const more = el("button", { type: "button", class: "link-button more", text: "more", "aria-expanded": "false", hidden: true });
    more.addEventListener("click", () => {
      const open = text.classList.toggle("clamped");
      more.textContent = open ? "more" : "less";
      more.setAttribute("aria-expanded", open ? "false" : "true");
    });
    const wrap = el("div", { class: "comment-wrap" }, text, more);
    const lines = (f.comment || "").split("\n").length;
    if (lines > CLAMP_LINES || (f.comment || "").length > CLAMP_LINES * 40) more.hidden = false;
    return wrap;
  }

  reveal(f) {
    const article = document.querySelector(`.candidate[data-candidate="${f.candidate_id}"]`);
    const scroll = article?.querySelector(`.code-scroll[data-path="${CSS.escape(f.file_path)}"]`);
    if (!scroll) return;
    const panel = scroll.closest(".file");
    if (panel.hidden) article.querySelector(`.tab[data-tab="${panel.dataset.panel}"]`)?.click();
    scroll.querySelector(`tr[data-line="${f.line_start}"]`)?.scrollIntoView({ block: "center" });
    this.select(scroll, f.line_start, false);
    if (f.line_end !== f.line_start) this.select(scroll, f.line_end, true);
    scroll.focus({ preventScroll: true });
  }
}

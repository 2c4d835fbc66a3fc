// The ranking: rows of candidates, best first; a row with several candidates is a tie.
// Drag and drop (onto a row: tie; between rows: a place of its own) and keyboard
// (arrows move, "=" ties with the row above). Nothing is recorded until the
// annotator moves something or keeps the shown order: no default ranking is saved.

import { el } from "../lib.js";

export class Ranking {
  constructor(store, data) {
    this.store = store;
    this.ties = data.rubric.ties;
    this.ids = data.candidates.map((c) => c.id);
    this.letters = Object.fromEntries(data.candidates.map((c) => [c.id, c.letter]));
    this.list = document.getElementById("ranking");
    this.live = document.getElementById("ranking-live");
    this.unset = document.getElementById("ranking-unset");
    this.onChange = () => {};
    if (!this.list) return;
    document.getElementById("keep-order").addEventListener("click", () => this.commit(this.rows()));
    document.getElementById("clear-ranking").addEventListener("click", () => {
      this.store.state.ranking = [];
      this.render();
      this.store.changed();
    });
    this.render();
  }

  rows() {
    const saved = this.store.state.ranking;
    if (Array.isArray(saved) && saved.length) return saved.map((g) => [...g]);
    return this.ids.map((id) => [id]);
  }

  commit(rows, focusId = null, message = "") {
    this.store.state.ranking = rows.filter((g) => g.length);
    this.render(focusId);
    if (message) this.live.textContent = message;
    this.store.changed();
    this.onChange();
  }

  place(rows, id) {
    return rows.findIndex((g) => g.includes(id));
  }

  describe(rows, id) {
    const i = this.place(rows, id);
    const tied = rows[i].length > 1 ? `, tied with ${rows[i].filter((x) => x !== id).map((x) => this.letters[x]).join(" and ")}` : "";
    return `Candidate ${this.letters[id]}: place ${i + 1}${tied}`;
  }

  // --- operations -------------------------------------------------------------------------

  without(rows, id) {
    return rows.map((g) => g.filter((x) => x !== id)).filter((g) => g.length);
  }

  moveUp(id) {
    const rows = this.rows();
    const i = this.place(rows, id);
    if (rows[i].length > 1) {
      rows[i] = rows[i].filter((x) => x !== id);
      rows.splice(i, 0, [id]);
    } else if (i > 0) {
      [rows[i - 1], rows[i]] = [rows[i], rows[i - 1]];
    }
    this.commit(rows, id, this.describe(rows, id));
  }

  moveDown(id) {
    const rows = this.rows();
    const i = this.place(rows, id);
    if (rows[i].length > 1) {
      rows[i] = rows[i].filter((x) => x !== id);
      rows.splice(i + 1, 0, [id]);
    } else if (i < rows.length - 1) {
      [rows[i + 1], rows[i]] = [rows[i], rows[i + 1]];
    }
    this.commit(rows, id, this.describe(rows, id));
  }

  tieUp(id) {
    if (!this.ties) return;
    const i = this.place(this.rows(), id);
    if (i > 0) this.merge(id, i - 1);
  }

  joinRow(id, targetRow) {
    const rows = this.rows();
    if (!rows[targetRow] || rows[targetRow].includes(id)) return;
    if (this.ties) this.merge(id, targetRow);
    else this.insertAt(id, targetRow);
  }

  merge(id, targetRow) {
    const next = [];
    this.rows().forEach((group, k) => {
      const rest = group.filter((x) => x !== id);
      if (k === targetRow) rest.push(id);
      if (rest.length) next.push(rest);
    });
    this.commit(next, id, this.describe(next, id));
  }

  insertAt(id, gap) {
    // gap i is the space in front of row i (rows.length: after the last row)
    const rows = this.rows();
    const next = [];
    rows.forEach((group, k) => {
      if (k === gap) next.push([id]);
      const rest = group.filter((x) => x !== id);
      if (rest.length) next.push(rest);
    });
    if (gap >= rows.length) next.push([id]);
    this.commit(next, id, this.describe(next, id));
  }

  // --- rendering ----------------------------------------------------------------------------

  render(focusId = null) {
    if (!this.list) return;
    const rows = this.rows();
    const confirmed = Array.isArray(this.store.state.ranking) && this.store.state.ranking.length > 0;
    this.unset.hidden = confirmed;
    this.list.classList.toggle("unconfirmed", !confirmed);
    this.list.replaceChildren();
    rows.forEach((group, i) => {
      this.list.append(this.gap(i));
      const row = el("li", { class: "tier", "data-row": i, "aria-label": `Place ${i + 1}` },
        el("span", { class: "place", text: `${i + 1}` }));
      for (const id of group) row.append(this.chip(id, rows));
      row.addEventListener("dragover", (ev) => {
        ev.preventDefault();
        row.classList.add("over");
      });
      row.addEventListener("dragleave", () => row.classList.remove("over"));
      row.addEventListener("drop", (ev) => {
        ev.preventDefault();
        const id = Number(ev.dataTransfer.getData("text/plain"));
        if (id) this.joinRow(id, i);
      });
      this.list.append(row);
    });
    this.list.append(this.gap(rows.length));
    if (focusId !== null) this.list.querySelector(`.chip[data-candidate="${focusId}"]`)?.focus();
  }

  gap(i) {
    const gap = el("li", { class: "gap", "data-gap": i, "aria-hidden": "true" });
    gap.addEventListener("dragover", (ev) => {
      ev.preventDefault();
      gap.classList.add("over");
    });
    gap.addEventListener("dragleave", () => gap.classList.remove("over"));
    gap.addEventListener("drop", (ev) => {
      ev.preventDefault();
      const id = Number(ev.dataTransfer.getData("text/plain"));
      if (id) this.insertAt(id, i);
    });
    return gap;
  }

  chip(id, rows) {
    const chip = el("span", {
      class: "chip",
      draggable: "true",
      tabindex: "0",
      role: "button",
      "data-candidate": id,
      "aria-label": this.describe(rows, id) + ". Arrow keys move" + (this.ties ? ", = ties with the row above." : "."),
      text: this.letters[id],
    });
    chip.addEventListener("dragstart", (ev) => {
      ev.dataTransfer.setData("text/plain", String(id));
      ev.dataTransfer.effectAllowed = "move";
      chip.classList.add("dragging");
    });
    chip.addEventListener("dragend", () => chip.classList.remove("dragging"));
    chip.addEventListener("keydown", (ev) => {
      if (ev.key === "ArrowUp") this.moveUp(id);
      else if (ev.key === "ArrowDown") this.moveDown(id);
      else if (ev.key === "=" || ev.key === "t") this.tieUp(id);
      else return;
      ev.preventDefault();
      ev.stopPropagation();
    });
    return chip;
  }
}

// Small page behaviours shared by every page. No build step, no inline script.

function initTabs(root) {
  for (const tab of root.querySelectorAll(".tab[data-tab]")) {
    tab.addEventListener("click", () => {
      const article = tab.closest(".candidate");
      for (const other of article.querySelectorAll(".tab[data-tab]")) {
        other.setAttribute("aria-selected", other === tab ? "true" : "false");
      }
      for (const panel of article.querySelectorAll(".file[data-panel]")) {
        panel.hidden = panel.dataset.panel !== tab.dataset.tab;
      }
    });
  }
}

initTabs(document);

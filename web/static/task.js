// The lead's task page: the candidates' test results, rendered by the review page's
// renderer and polled while a run is queued or running, so a run finishes on screen.

import { DetailsPanel, RunPanels } from "./runs.js";

const data = JSON.parse(document.getElementById("task-data").textContent);
new RunPanels({
  url: data.urls.runs,
  runs: data.runs,
  titles: Object.fromEntries([...document.querySelectorAll(".candidate")].map(
    (a) => [a.dataset.candidate, a.querySelector(".cand-head h2")?.textContent.trim() || ""])),
  panel: new DetailsPanel(document.getElementById("test-details")),
});

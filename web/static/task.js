// The lead's task page: the candidates' test results, rendered by the review page's
// renderer and polled while a run is queued or running, so a run finishes on screen;
// the re-run button queues a candidate's tests again and starts the polling.

import { postJSON } from "./lib.js";
import { DetailsPanel, RunPanels } from "./runs.js";

const data = JSON.parse(document.getElementById("task-data").textContent);
const panels = new RunPanels({
  url: data.urls.runs,
  runs: data.runs,
  titles: Object.fromEntries([...document.querySelectorAll(".candidate")].map(
    (a) => [a.dataset.candidate, a.querySelector(".cand-head h2")?.textContent.trim() || ""])),
  panel: new DetailsPanel(document.getElementById("test-details")),
});

for (const button of document.querySelectorAll("button.rerun[data-url]")) {
  button.addEventListener("click", async () => {
    const status = button.parentElement.querySelector(".rerun-status");
    button.disabled = true;
    let result;
    try {
      result = await postJSON(button.dataset.url, { candidate_id: Number(button.dataset.candidate) });
    } catch {
      result = { ok: false, data: null };
    }
    button.disabled = false;
    if (result.ok) {
      status.textContent = result.data.queued ? "queued" : "already queued";
      panels.poll();
    } else {
      status.textContent = result.data?.error?.message || "the server did not answer; try again";
    }
  });
}

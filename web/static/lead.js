// Lead pages: the re-run button posts to runs.rerun with the page's CSRF token.

const token = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

for (const button of document.querySelectorAll("button.rerun[data-url]")) {
  button.addEventListener("click", async () => {
    const status = button.parentElement.querySelector(".rerun-status");
    button.disabled = true;
    try {
      const response = await fetch(button.dataset.url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token() },
        body: JSON.stringify({ candidate_id: Number(button.dataset.candidate) }),
      });
      const body = await response.json();
      status.textContent = response.ok
        ? `queued (${body.queued}); reload the page to see the result`
        : body.error?.message || "refused";
    } catch (err) {
      status.textContent = "the server did not answer";
    } finally {
      button.disabled = false;
    }
  });
}

// flowc serve dashboard: the retry buttons. Everything else is rendered on the server.
"use strict";

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-retry]");
  if (!button) return;
  const result = button.nextElementSibling;
  button.disabled = true;
  result.textContent = "retrying…";
  try {
    // The session cookie signs the call in; this header tells the host it comes from the dashboard.
    const response = await fetch(button.dataset.retry, {
      method: "POST",
      credentials: "same-origin",
      headers: { "x-flowc-dashboard": "1" },
    });
    const body = await response.json().catch(() => ({}));
    if (response.ok) {
      result.textContent = "retried";
      setTimeout(() => window.location.reload(), 600);
    } else {
      result.textContent = body.error || "the host answered " + response.status;
      button.disabled = false;
    }
  } catch (e) {
    result.textContent = "the host cannot be reached";
    button.disabled = false;
  }
});

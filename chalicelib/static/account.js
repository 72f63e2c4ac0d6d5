// Small helpers for the account pages; the only script the pages load (their
// Content-Security-Policy allows nothing else). Every form works without it.
"use strict";

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  navigator.clipboard.writeText(source.textContent.trim()).then(
    () => { button.textContent = "Copied"; },
    () => { button.textContent = "Select the codes and copy them"; },
  );
});

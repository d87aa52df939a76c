// Small enhancements only: every page works without this file.
"use strict";

// A form with data-confirm asks before it is sent (revocations, declines).
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

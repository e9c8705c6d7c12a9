// cllcds web: progressive enhancement only. Every form works without this file.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    // After a rejected form: open it, scroll to it and put the caret in the first bad field.
    var bad = document.querySelector(".record-form[open] [aria-invalid='true'], form [aria-invalid='true']");
    if (bad) {
      bad.scrollIntoView({ block: "center" });
      bad.focus();
    }
    // Keyboard: "/" focuses the search box on the patient list.
    var search = document.getElementById("q");
    if (search) {
      document.addEventListener("keydown", function (ev) {
        var tag = (ev.target && ev.target.tagName) || "";
        if (ev.key === "/" && tag !== "INPUT" && tag !== "SELECT" && tag !== "TEXTAREA") {
          ev.preventDefault();
          search.focus();
        }
      });
    }
    // The printable summary's Print button.
    document.querySelectorAll("[data-print]").forEach(function (btn) {
      btn.addEventListener("click", function () { window.print(); });
    });
    // Disable a record button while its form is being sent (no double entries).
    document.querySelectorAll(".record-form form").forEach(function (form) {
      form.addEventListener("submit", function () {
        var btn = form.querySelector("button[type=submit]");
        if (btn) { btn.disabled = true; btn.textContent = "Recording…"; }
      });
    });
  });
})();

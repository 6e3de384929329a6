// Behaviour every page may use, kept out of the templates: the Content-Security-Policy
// refuses inline scripts and event-handler attributes.
(function () {
  "use strict";
  // <select data-autosubmit>: choosing an option submits its form.
  document.querySelectorAll("[data-autosubmit]").forEach(function (field) {
    field.addEventListener("change", function () { field.form.submit(); });
  });
})();

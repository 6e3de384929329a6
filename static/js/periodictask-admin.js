// The admin's periodic task form (django-celery-beat): the chosen crontab's meaning
// under the field. django-celery-beat's template has this inline; the
// Content-Security-Policy refuses inline scripts (templates/admin/djcelery/).
(function () {
  "use strict";
  var $ = django.jQuery;
  var readableCrontabs = JSON.parse(document.getElementById("readable-crontabs").textContent);
  var originalCrontabHelp = document.getElementById("periodic-task-overrides").dataset.crontabHelp;

  function updateCrontabHelp(additional) {
    $(".field-crontab .help")
      .text(originalCrontabHelp)
      .append(document.createElement("br"), document.createTextNode("Translation: " + additional));
  }

  $(".field-crontab_translation").hide();
  $(".field-crontab").change(function () {
    updateCrontabHelp(readableCrontabs[$("#id_crontab").val()]);
  });
})();

// Review queue: keyboard decisions. j/k move between products, Enter or a accepts the
// first suggestion, 1-3 choose a suggestion, x ticks the product for a bulk accept.
(function () {
  "use strict";
  var items = Array.prototype.slice.call(document.querySelectorAll(".review-item"));
  if (!items.length) return;

  function current() {
    var active = document.activeElement;
    return active && active.classList && active.classList.contains("review-item") ? active : null;
  }

  function move(step) {
    var index = items.indexOf(current());
    var next = items[Math.min(items.length - 1, Math.max(0, index + step))];
    if (next) next.focus();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var item = current();
    if (event.key === "j") { move(1); event.preventDefault(); return; }
    if (event.key === "k") { move(-1); event.preventDefault(); return; }
    if (!item) return;
    var button = null;
    if (event.key === "Enter" || event.key === "a") {
      button = item.querySelector(".suggestion[data-rank='1']");
    } else if (/^[1-3]$/.test(event.key)) {
      button = item.querySelector(".suggestion[data-rank='" + event.key + "']");
    } else if (event.key === "x") {
      var tick = item.querySelector(".review-tick");
      tick.checked = !tick.checked;
      event.preventDefault();
      return;
    }
    if (button) {
      event.preventDefault();
      button.click();
    }
  });

  items[0].focus();
})();

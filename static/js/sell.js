// Sell page: filter the category list, keep the radios and the list in step, and
// preview the chosen photo. The suggestions themselves come from htmx.
(function () {
  "use strict";

  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  document.querySelectorAll("[data-filter-select]").forEach(function (input) {
    var select = document.getElementById(input.dataset.filterSelect);
    if (!select) return;
    input.addEventListener("input", function () {
      var query = fold(input.value.trim());
      var firstVisible = null;
      Array.prototype.forEach.call(select.options, function (option) {
        var visible = !option.value || !query || fold(option.text).includes(query);
        option.hidden = !visible;
        if (visible && option.value && firstVisible === null) firstVisible = option;
      });
      if (query && firstVisible && (select.selectedIndex < 0 || select.options[select.selectedIndex].hidden || !select.value)) {
        select.value = firstVisible.value;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
  });

  // Picking a category in the list means "another category than the suggestions".
  document.addEventListener("change", function (event) {
    if (event.target.id === "id_other_category" && event.target.value) {
      var other = document.getElementById("category-other");
      if (other) other.checked = true;
    }
  });

  var photo = document.getElementById("id_photo");
  var preview = document.getElementById("photo-preview");
  if (photo && preview) {
    photo.addEventListener("change", function () {
      var file = photo.files && photo.files[0];
      if (!file || !file.type.startsWith("image/")) return;
      var img = document.createElement("img");
      img.className = "img-thumbnail photo-thumb";
      img.alt = "Photo preview";
      img.src = URL.createObjectURL(file);
      preview.replaceChildren(img);
    });
  }
})();

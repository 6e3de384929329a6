// Sell page: filter the category list, keep the seller's choice explicit, check the
// photo before uploading it, and preview it. The suggestions themselves come from
// htmx.
//
// The seller's choice lives in hidden inputs outside the suggestions panel
// (prediction, choice_source, choice_rank, choice_category). Until the seller ticks
// a suggestion or picks from the list, it follows the model's first suggestion. Once
// they have chosen, only they change it: suggestions arriving afterwards (the seller
// edited the text, or a request was still on its way) do not tick anything; they say
// what the model now suggests, beside the kept choice.
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

  // --- The seller's choice ----------------------------------------------------------

  var field = {
    prediction: document.getElementById("id_prediction"),
    source: document.getElementById("id_choice_source"),
    rank: document.getElementById("id_choice_rank"),
    category: document.getElementById("id_choice_category"),
  };
  var select = document.getElementById("id_other_category");
  var chosen = !!(field.source && field.source.value);
  var chosenName = chosen ? currentName() : "";

  function panel() {
    return document.querySelector("#suggestions .suggestion-list");
  }

  function radios() {
    return document.querySelectorAll('#suggestions input[type=radio][name=category]');
  }

  function write(source, rank, category, prediction) {
    if (!field.source) return;
    field.source.value = source;
    field.rank.value = rank;
    field.category.value = category;
    field.prediction.value = prediction;
  }

  function selectedName() {
    if (!select || select.selectedIndex < 0 || !select.value) return "";
    return select.options[select.selectedIndex].text;
  }

  function currentName() {
    if (field.source.value === "list") return selectedName();
    var ticked = document.querySelector('#suggestions input[type=radio][name=category]:checked');
    return ticked && ticked.dataset.name ? ticked.dataset.name : "";
  }

  function choose(source, rank, category, name) {
    var list = panel();
    write(source, rank, category, list ? list.dataset.prediction : "");
    chosen = true;
    chosenName = name;
    var kept = document.getElementById("choice-kept");
    if (kept) kept.hidden = true;
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.name === "category" && target.type === "radio" && target.closest("#suggestions")) {
      if (!target.value) {
        choose("list", "", select ? select.value : "", selectedName());
      } else {
        if (select) select.value = "";
        choose("suggestion", target.dataset.rank, target.value, target.dataset.name || "");
      }
    } else if (select && target === select) {
      // Picking a category in the list means "another category than the suggestions".
      var other = document.getElementById("category-other");
      if (other) other.checked = true;
      choose("list", "", select.value, selectedName());
    }
  });

  // New suggestions: before any choice, the first one is the choice; after, the
  // seller's choice stays and the panel says what the model now suggests.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== "suggestions" || !field.source) return;
    var list = panel();
    if (!chosen) {
      var first = document.querySelector('#suggestions input[type=radio][name=category]:checked');
      if (list && first && first.value) {
        write("suggestion", first.dataset.rank, first.value, list.dataset.prediction);
      } else {
        write("", "", "", "");
      }
      return;
    }
    var sameScreen = list && list.dataset.prediction === field.prediction.value;
    radios().forEach(function (radio) {
      if (field.source.value === "list") {
        radio.checked = radio.id === "category-other";
      } else {
        radio.checked = sameScreen && radio.dataset.rank === field.rank.value;
      }
    });
    var kept = document.getElementById("choice-kept");
    if (list && kept && !sameScreen) {
      var top = list.querySelector("input[type=radio][data-rank='1']");
      var now = top ? top.dataset.name : "";
      kept.textContent = "Your choice is kept: " + (chosenName || "the category you chose") +
        ". For the text as it is now, the model suggests " + now +
        " (tick it to change your choice).";
      kept.hidden = false;
    }
  });

  // --- The photo ----------------------------------------------------------------------

  var photo = document.getElementById("id_photo");
  var preview = document.getElementById("photo-preview");
  var photoError = document.getElementById("photo-client-error");

  function megabytes(bytes) {
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  // Checked before anything else hears the change (capture), so a rejected file is
  // never uploaded: the suggestions are asked for the text alone.
  document.addEventListener("change", function (event) {
    if (!photo || event.target !== photo) return;
    var file = photo.files && photo.files[0];
    var message = "";
    if (file) {
      var accepted = (photo.accept || "").split(",").map(function (t) { return t.trim(); }).filter(Boolean);
      var max = parseInt(photo.dataset.maxBytes || "0", 10);
      if (accepted.length && accepted.indexOf(file.type) < 0) {
        message = "“" + file.name + "” is not a JPEG, PNG or WebP image: choose another photo.";
      } else if (max && file.size > max) {
        message = "“" + file.name + "” is too large (" + megabytes(file.size) +
          "): the largest photo accepted is " + megabytes(max) + ".";
      }
    }
    if (message) photo.value = "";
    if (photoError) {
      photoError.textContent = message;
      photoError.hidden = !message;
    }
  }, true);

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

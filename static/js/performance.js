// Performance page: daily weighted F1, accuracy and product counts with Chart.js.
(function () {
  "use strict";
  var source = document.getElementById("trend-data");
  if (!source || typeof Chart === "undefined") return;
  var trend = JSON.parse(source.textContent);
  var labels = trend.map(function (day) { return day.date.slice(5); });
  var common = { animation: false, maintainAspectRatio: false, plugins: { legend: { position: "bottom" } } };

  new Chart(document.getElementById("trend-f1"), {
    type: "line",
    data: {
      labels: labels,
      datasets: [
        { label: "weighted F1", data: trend.map(function (d) { return d.weighted_f1; }), borderColor: "#bf0000", backgroundColor: "#bf0000", spanGaps: true },
        { label: "accuracy", data: trend.map(function (d) { return d.accuracy; }), borderColor: "#6c757d", backgroundColor: "#6c757d", borderDash: [4, 4], spanGaps: true }
      ]
    },
    options: Object.assign({}, common, { scales: { y: { min: 0, max: 1 } } })
  });

  new Chart(document.getElementById("trend-count"), {
    type: "bar",
    data: { labels: labels, datasets: [{ label: "products", data: trend.map(function (d) { return d.count; }), backgroundColor: "#dc3545" }] },
    options: Object.assign({}, common, { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } })
  });
})();

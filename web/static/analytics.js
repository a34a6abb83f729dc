// Draws the analytics charts with Chart.js: each <canvas class="chart"> carries its
// configuration (data only) in data-chart, so the page needs no inline script (CSP).
document.addEventListener("DOMContentLoaded", function () {
  if (typeof Chart === "undefined") { return; }
  document.querySelectorAll("canvas.chart[data-chart]").forEach(function (canvas) {
    var config = JSON.parse(canvas.dataset.chart);
    var options = { animation: false, responsive: true, maintainAspectRatio: false,
                    plugins: { legend: { display: config.type === "line" } } };
    if (config.indexAxis) { options.indexAxis = config.indexAxis; }
    new Chart(canvas, { type: config.type, data: config.data, options: options });
    canvas.dataset.drawn = "1";
  });
});

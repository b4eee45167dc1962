/**
 * What every page script of the project starts with (this page's and the bench page's,
 * bench-page-script.ts): Chart.js defaults, the palette, number formats, and draw(NAME, POINTS,
 * CONFIG), which fills `<section data-chart=NAME>` and marks it rendered, empty or failed.
 */
export const CHART_HELPERS = String.raw`
  var Chart = window.Chart;
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = 'system-ui, sans-serif';
  var PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];
  function colour(i) { return PALETTE[i % PALETTE.length]; }
  function fmtNs(ns) {
    if (ns < 1000) return Math.round(ns) + ' ns';
    if (ns < 1e6) return (ns / 1e3).toPrecision(3) + ' \u00b5s';
    if (ns < 1e9) return (ns / 1e6).toPrecision(3) + ' ms';
    return (ns / 1e9).toPrecision(3) + ' s';
  }
  function fmtCount(v) { return Number(v).toLocaleString('en-US', { maximumFractionDigits: 0 }); }

  function draw(name, points, makeConfig) {
    var section = document.querySelector('section[data-chart="' + name + '"]');
    if (!section) return;
    var note = section.querySelector('.chart-note');
    try {
      if (points === 0) {
        section.dataset.empty = 'true';
        note.textContent = section.dataset.emptyText || 'No data for this chart in this run.';
        return;
      }
      var canvas = section.querySelector('canvas');
      var chart = new Chart(canvas, makeConfig());
      var held = 0;
      chart.data.datasets.forEach(function (d) { held += d.data.filter(function (p) { return p !== null; }).length; });
      section.dataset.points = String(held);
      section.dataset.rendered = 'true';
    } catch (e) {
      section.dataset.error = String(e && e.message || e);
      note.textContent = 'This chart could not be drawn: ' + section.dataset.error;
    }
  }

`;

/**
 * The report page's own script, inlined after Chart.js. It reads the chart data (page-data.ts)
 * from the page's JSON element and draws one chart per `<section data-chart=NAME>`. When a chart
 * is drawn its section gets data-rendered="true" and data-points=N (the data points Chart.js
 * holds for it), or data-empty="true" when the run gave it nothing to draw, or data-error=MESSAGE;
 * <body> gets data-charts-done="true" at the end. The headless-browser test reads these, and a
 * reader sees a message in place of an empty chart.
 *
 * Plain ES2017 in a string: it runs in the browser, not in Node, and needs no build step.
 */
export const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('piosim-data').textContent);
${CHART_HELPERS}
  var c = data.charts;

  draw('latency', c.latency.counts.filter(function (v) { return v > 0; }).length, function () {
    return {
      type: 'bar',
      data: { labels: c.latency.labels, datasets: [{ label: 'round trips', data: c.latency.counts, backgroundColor: '#1f77b4', barPercentage: 1, categoryPercentage: 1 }] },
      options: {
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: {
            title: function (items) { return c.latency.ranges[items[0].dataIndex]; },
            label: function (item) { return fmtCount(item.raw) + ' round trips'; },
          } },
        },
        scales: {
          x: { title: { display: true, text: 'round trip (exit posted \u2192 completion seen), log-spaced buckets' } },
          y: { type: 'logarithmic', title: { display: true, text: 'round trips (log)' } },
        },
      },
    };
  });

  var timelinePoints = 0;
  c.timeline.vcpus.forEach(function (v) { timelinePoints += v.points.length; });
  draw('timeline', timelinePoints, function () {
    return {
      type: 'line',
      data: { datasets: c.timeline.vcpus.map(function (v) {
        return { label: 'vCPU ' + v.vcpu, data: v.points, borderColor: colour(v.vcpu), backgroundColor: colour(v.vcpu), pointRadius: v.points.length > 60 ? 0 : 2, borderWidth: 1.5, tension: 0 };
      }) },
      options: {
        parsing: false,
        plugins: { legend: { display: c.timeline.vcpus.length <= 16 } },
        scales: {
          x: { type: 'linear', title: { display: true, text: 'guest time (s)' } },
          y: { beginAtZero: true, title: { display: true, text: 'exits/s' } },
        },
      },
    };
  });

  var hm = c.heatmap;
  draw('heatmap', hm.cells.length, function () {
    // A scatter of square points, one per (port, vCPU) cell, on index axes labelled with the
    // ports and vCPUs; a point's side is the smaller of the cell's width and height.
    var logMax = Math.log(1 + hm.max);
    var row = {};
    hm.ports.forEach(function (p, i) { row[p] = i; });
    var col = {};
    hm.vcpus.forEach(function (v, i) { col[v] = i; });
    var points = hm.cells.map(function (cell) { return { x: col[cell.x], y: row[cell.y], v: cell.v, port: cell.y, vcpu: cell.x }; });
    function side(ctx) {
      var a = ctx.chart.chartArea;
      if (!a) return 4;
      return Math.max(2, Math.min(a.width / hm.vcpus.length, a.height / hm.ports.length) - 2);
    }
    function indexAxis(labels, title, reverse) {
      return {
        type: 'linear', min: -0.5, max: labels.length - 0.5, reverse: reverse, grid: { display: false },
        title: { display: true, text: title },
        afterBuildTicks: function (axis) { axis.ticks = labels.map(function (_, i) { return { value: i }; }); },
        ticks: { autoSkip: true, callback: function (value) { return labels[value]; } },
      };
    }
    return {
      type: 'scatter',
      data: { datasets: [{
        label: 'exits', data: points, pointStyle: 'rect',
        backgroundColor: function (ctx) {
          var p = ctx.raw;
          var a = p ? 0.12 + 0.88 * Math.log(1 + p.v) / logMax : 0;
          return 'rgba(214, 39, 40, ' + a.toFixed(3) + ')';
        },
        borderWidth: 0,
        // Chart.js draws a 'rect' point with sides of radius * sqrt(2).
        pointRadius: function (ctx) { return side(ctx) / Math.SQRT2; },
        pointHoverRadius: function (ctx) { return side(ctx) / Math.SQRT2; },
      }] },
      options: {
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: {
            label: function (item) { var d = item.raw; return 'port ' + d.port + ', ' + d.vcpu + ': ' + fmtCount(d.v) + ' exits'; },
          } },
        },
        scales: { x: indexAxis(hm.vcpus, 'vCPU', false), y: indexAxis(hm.ports, 'port', true) },
      },
    };
  });

  var fair = c.fairness;
  draw('fairness', fair.exitsPerSec.filter(function (v) { return v > 0; }).length, function () {
    var fastest = Math.max.apply(null, fair.exitsPerSec);
    return {
      type: 'bar',
      data: { labels: fair.vcpus, datasets: [{
        label: 'exits/s', data: fair.exitsPerSec,
        backgroundColor: fair.exitsPerSec.map(function (v) { return v === fastest ? '#2ca02c' : '#98df8a'; }),
      }] },
      options: {
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (item) { return fmtCount(item.raw) + ' exits/s'; } } } },
        scales: { y: { beginAtZero: true, title: { display: true, text: 'exits/s over the same window' } } },
      },
    };
  });

  if (c.breakdown) {
    var b = c.breakdown;
    var held = 0;
    [b.queue, b.device, b.completion].forEach(function (a) { a.forEach(function (v) { if (v !== null && v > 0) held++; }); });
    draw('breakdown', held, function () {
      function set(label, values, col) { return { label: label, data: values, backgroundColor: col }; }
      return {
        type: 'bar',
        data: { labels: b.stats, datasets: [set('queue', b.queue, '#1f77b4'), set('device', b.device, '#ff7f0e'), set('completion', b.completion, '#2ca02c')] },
        options: {
          plugins: { tooltip: { callbacks: { label: function (item) { return item.dataset.label + ': ' + fmtNs(item.raw); } } } },
          scales: { y: { type: 'logarithmic', title: { display: true, text: 'ns (log)' } } },
        },
      };
    });
  }
  document.body.dataset.chartsDone = 'true';
})();
`;

import { CHART_HELPERS } from './page-script.js';

/**
 * The bench page's script (bench-page.ts), inlined after Chart.js: reads the chart data from the
 * page's JSON element and draws each `<section data-chart=NAME>` through CHART_HELPERS' draw(),
 * so the sections carry the same data-rendered / data-points / data-empty marks as the run
 * report's. Plain ES2017 in a string: it runs in the browser.
 */
export const BENCH_PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('piosim-data').textContent);
${CHART_HELPERS}
  var c = data.charts;
  function fmtPerUnit(ns) { return ns < 10 ? ns.toFixed(2) + ' ns' : fmtNs(ns); }
  // Log axes labelled at powers of ten only, in time units (Chart.js's own labels crowd).
  function decades(v) { var l = Math.log10(v); return Math.abs(l - Math.round(l)) < 1e-9 ? fmtPerUnit(v) : ''; }

  function bars(name, b, axis) {
    draw(name, b.values.length, function () {
      return {
        type: 'bar',
        data: { labels: b.labels, datasets: [{
          label: axis, data: b.values,
          backgroundColor: b.baseline.map(function (isBase) { return isBase ? '#9e9e9e' : '#1f77b4'; }),
        }] },
        options: {
          indexAxis: 'y',
          plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (item) { return fmtPerUnit(item.raw); } } } },
          scales: { x: { type: 'logarithmic', ticks: { callback: decades }, title: { display: true, text: axis + ' (log)' } } },
        },
      };
    });
  }
  bars('vmexit', c.vmexit, 'ns per access');
  bars('string', c.string, 'ns per byte');

  var pointsOf = function (key) {
    var n = 0;
    c.scaling.forEach(function (s) { n += s[key].length; });
    return n;
  };
  function xy(points) { return points.map(function (p) { return { x: p[0], y: p[1] }; }); }
  function vcpuAxis() {
    return { type: 'logarithmic', title: { display: true, text: 'vCPUs' }, ticks: { callback: function (v) { return [1, 2, 4, 8, 16, 32, 64].indexOf(v) >= 0 ? v : ''; } } };
  }
  function lines(name, key, yAxis) {
    draw(name, pointsOf(key), function () {
      return {
        type: 'line',
        data: { datasets: c.scaling.map(function (s, i) {
          return { label: s.label, data: xy(s[key]), borderColor: colour(i), backgroundColor: colour(i), pointRadius: 3, borderWidth: 1.5, tension: 0 };
        }) },
        options: { parsing: false, scales: { x: vcpuAxis(), y: yAxis } },
      };
    });
  }
  lines('scaling-rate', 'rate', { beginAtZero: true, title: { display: true, text: 'exits/s, all vCPUs' } });
  lines('scaling-fairness', 'fairness', { min: 0, max: 1, title: { display: true, text: 'slowest / fastest' } });

  var latencyKeys = [['p50', 'p50', []], ['p99', 'p99', [6, 3]], ['p999', 'p99.9', [2, 2]], ['meanCycle', 'mean cycle', [10, 4, 2, 4]]];
  draw('scaling-latency', pointsOf('p50') + pointsOf('p99') + pointsOf('p999') + pointsOf('meanCycle'), function () {
    var sets = [];
    c.scaling.forEach(function (s, i) {
      latencyKeys.forEach(function (k) {
        sets.push({ label: s.label + ' ' + k[1], data: xy(s[k[0]]), borderColor: colour(i), backgroundColor: colour(i), borderDash: k[2], pointRadius: 2, borderWidth: 1.5, tension: 0 });
      });
    });
    return {
      type: 'line',
      data: { datasets: sets },
      options: {
        parsing: false,
        plugins: { tooltip: { callbacks: { label: function (item) { return item.dataset.label + ': ' + fmtNs(item.raw.y); } } } },
        scales: { x: vcpuAxis(), y: { type: 'logarithmic', ticks: { callback: decades }, title: { display: true, text: 'time (log)' } } },
      },
    };
  });
  document.body.dataset.chartsDone = 'true';
})();
`;

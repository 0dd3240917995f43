// Charts with uPlot (vendored under vendor/uplot, MIT, v1.6.32), loaded only by the pages that draw one. Every
// chart sits above a table of the same figures, which is what screen readers and the CSV download use.

import { h } from "./dom.js";

let loading = null;

function loadUplot() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      document.head.append(h("link", { rel: "stylesheet", href: "/console/vendor/uplot/uPlot.min.css" }));
      const script = h("script", { src: "/console/vendor/uplot/uPlot.iife.min.js" });
      script.addEventListener("load", () => resolve(window.uPlot));
      script.addEventListener("error", () => reject(new Error("the chart library did not load")));
      document.head.append(script);
    });
  }
  return loading;
}

const palette = ["#0b5cad", "#c2410c", "#1a6b33", "#7a4b00", "#6b21a8"];

/**
 * A bar chart into `container`: `x` are Unix times in seconds `step` apart (every hour of a day: 3600, every day of a
 * range: 86400; gaps drawn as zero by the caller), `series` are `{label, values}`; `whole` when the values are counts (no fractional
 * ticks). `describe` is the chart's text alternative. Redrawn to the container's width when the window is resized.
 */
export async function barChart(container, { x, step, series, describe, whole = false, valueFormat = (value) => String(value) }) {
  // Ticks on whole hours or days (UTC, as the page's figures), labelled "05:00" or "12-05".
  const tick = (at) => new Date(at * 1000).toISOString().slice(step < 86_400 ? 11 : 5, step < 86_400 ? 16 : 10);
  const uPlot = await loadUplot();
  // A chart drawn again (the overview's refresh) replaces the last one, its listeners included.
  container.chart?.destroy();
  container.replaceChildren();
  container.setAttribute("role", "img");
  container.setAttribute("aria-label", describe);
  if (x.length === 0) return;
  const bars = uPlot.paths.bars({ size: [0.7, 60] });
  const options = {
    width: Math.max(container.clientWidth, 280),
    height: 220,
    scales: {
      x: { time: true, range: () => [x[0] - step / 2, x[x.length - 1] + step / 2] },
      y: { range: (_, min, max) => [0, Math.max(max * 1.1, 1)] },
    },
    axes: [{ values: (_, ticks) => ticks.map(tick), incrs: [1, 2, 3, 6, 12, 24, 48, 96].map((n) => n * step), space: 44 }, { values: (_, ticks) => ticks.map(valueFormat), size: 70, incrs: whole ? [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 1e5, 1e6] : undefined }],
    legend: { show: series.length > 1 },
    cursor: { show: true, points: { show: false } },
    series: [{}, ...series.map((one, index) => ({
      label: one.label, stroke: palette[index % palette.length], fill: `${palette[index % palette.length]}cc`,
      paths: bars, points: { show: false }, value: (_, value) => (value === null ? "" : valueFormat(value)),
    }))],
  };
  const plot = new uPlot(options, [x, ...series.map((one) => one.values)], container);
  const resize = () => {
    if (!container.isConnected) { destroy(); return; }
    plot.setSize({ width: Math.max(container.clientWidth, 280), height: 220 });
  };
  const destroy = () => {
    window.removeEventListener("resize", resize);
    plot.destroy();
    container.chart = null;
  };
  window.addEventListener("resize", resize);
  container.chart = { destroy };
}

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
 * A bar chart into `container`: `x` are Unix times in seconds (days or hours), `series` are `{label, values}`.
 * `describe` is the chart's text alternative. Redrawn to the container's width when the window is resized.
 */
export async function barChart(container, { x, series, describe, valueFormat = (value) => String(value) }) {
  const uPlot = await loadUplot();
  container.replaceChildren();
  container.setAttribute("role", "img");
  container.setAttribute("aria-label", describe);
  if (x.length === 0) return;
  const bars = uPlot.paths.bars({ size: [0.7, 60] });
  const options = {
    width: Math.max(container.clientWidth, 280),
    height: 220,
    scales: { x: { time: true }, y: { range: (_, min, max) => [0, Math.max(max * 1.1, 1)] } },
    axes: [{}, { values: (_, ticks) => ticks.map(valueFormat), size: 70 }],
    legend: { show: series.length > 1 },
    cursor: { show: true, points: { show: false } },
    series: [{}, ...series.map((one, index) => ({
      label: one.label, stroke: palette[index % palette.length], fill: `${palette[index % palette.length]}cc`,
      paths: bars, points: { show: false }, value: (_, value) => (value === null ? "" : valueFormat(value)),
    }))],
  };
  const plot = new uPlot(options, [x, ...series.map((one) => one.values)], container);
  const resize = () => {
    if (!container.isConnected) { window.removeEventListener("resize", resize); plot.destroy(); return; }
    plot.setSize({ width: Math.max(container.clientWidth, 280), height: 220 });
  };
  window.addEventListener("resize", resize);
}

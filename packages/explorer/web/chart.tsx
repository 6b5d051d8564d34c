// A uPlot time-series chart as a Preact component: uPlot draws, this only hands it new data.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

const COLORS = [
  "#2563eb",
  "#dc2626",
  "#16a34a",
  "#d97706",
  "#7c3aed",
  "#0891b2",
  "#db2777",
  "#4b5563",
];

export interface ChartSeries {
  label: string;
  values: (number | null)[];
}

export function Chart({ title, t, series }: { title: string; t: number[]; series: ChartSeries[] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const labels = series.map((s) => s.label).join("|");
  // A new set of series (a stage seen for the first time) needs a new chart.
  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const u = new uPlot(
      {
        width: Math.max(320, el.clientWidth || 800),
        height: 260,
        scales: { x: { time: true } },
        axes: [{}, { label: title }],
        series: [
          {},
          ...series.map((s, i) => ({
            label: s.label,
            stroke: COLORS[i % COLORS.length] ?? "#000",
            width: 1.5,
            spanGaps: false,
          })),
        ],
      },
      [t, ...series.map((s) => s.values)],
      el,
    );
    plot.current = u;
    return () => {
      u.destroy();
      plot.current = undefined;
    };
  }, [labels, title]);
  useEffect(() => {
    plot.current?.setData([t, ...series.map((s) => s.values)]);
  }, [t, series]);
  return <div class="chart" ref={box} data-testid={`chart-${title}`} />;
}

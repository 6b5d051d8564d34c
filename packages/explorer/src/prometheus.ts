// The few numbers the explorer reads from a node's `/metrics` (Prometheus text format 0.0.4):
// sample lines `name{label="value",...} number`, comments and blank lines skipped.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the samples of a text exposition (unparseable lines are skipped). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (m === null) continue;
    const value = Number(m[3]);
    if (Number.isNaN(value)) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL)) {
      labels[l[1] ?? ""] = (l[2] ?? "").replace(/\\(.)/g, (_s, c: string) =>
        c === "n" ? "\n" : c,
      );
    }
    out.push({ name: m[1] ?? "", labels, value });
  }
  return out;
}

/** The sum of every sample of `name` (over all label values), 0 when there is none. */
export function total(samples: readonly Sample[], name: string): number {
  let sum = 0;
  for (const s of samples) if (s.name === name) sum += s.value;
  return sum;
}

/** Per value of `label`: the sum of the samples of `name` carrying it. */
export function byLabel(
  samples: readonly Sample[],
  name: string,
  label: string,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== name) continue;
    const key = s.labels[label];
    if (key !== undefined) out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

// The measures a simulation reports, as pure functions (each checked by hand in metrics.test.ts).

/**
 * Gini coefficient of non-negative values: 0 when all are equal, (n-1)/n when one holds all.
 * `G = sum_i (2i - n - 1) x_(i) / (n sum x)` over the values sorted ascending (i from 1).
 */
export function gini(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  let weighted = 0;
  for (let i = 0; i < n; i++) {
    const x = sorted[i] ?? 0;
    sum += x;
    weighted += (2 * (i + 1) - n - 1) * x;
  }
  return sum === 0 ? 0 : weighted / (n * sum);
}

/** Total variation distance between two distributions given as weights (each normalised). */
export function totalVariation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < a.length; i++) sa += a[i] ?? 0;
  for (let i = 0; i < b.length; i++) sb += b[i] ?? 0;
  if (sa === 0 || sb === 0) return 0;
  let d = 0;
  for (let i = 0; i < a.length; i++) d += Math.abs((a[i] ?? 0) / sa - (b[i] ?? 0) / sb);
  return d / 2;
}

/**
 * From a histogram of run lengths (`histogram[L]` runs of exactly L epochs), the probability
 * that a given contract is held for `k` epochs in a row starting at a given epoch, for k = 1 ..
 * `maxK`: the number of k-epoch windows inside runs over all (contract, start) windows.
 */
export function windowProbabilities(
  histogram: readonly number[],
  contracts: number,
  epochs: number,
  maxK: number,
): number[] {
  const out: number[] = [];
  for (let k = 1; k <= maxK && k <= epochs; k++) {
    let inside = 0;
    for (let L = k; L < histogram.length; L++) inside += (histogram[L] ?? 0) * (L - k + 1);
    out.push(inside / (contracts * (epochs - k + 1)));
  }
  return out;
}

/** Rounds for JSON: 6 significant decimals, so that output reads well and stays stable. */
export function round6(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1e6) / 1e6 : 0;
}

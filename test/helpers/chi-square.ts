/**
 * Pearson's chi-square goodness-of-fit, with p-values computed from the chi-square distribution
 * (regularized upper incomplete gamma function, Numerical Recipes' series / continued fraction), so
 * tests state a significance level instead of a guessed critical value.
 */

export interface ChiSquareResult {
  statistic: number;
  degreesOfFreedom: number;
  /** P(X >= statistic) for X ~ chi-square(degreesOfFreedom). */
  pValue: number;
}

/**
 * `observed[i]` against `expected[i]` (counts). Categories whose expected count is 0 are left out
 * (the caller must check that their observed count is 0 too). Degrees of freedom: categories - 1.
 */
export function chiSquareTest(observed: readonly number[], expected: readonly number[]): ChiSquareResult {
  if (observed.length !== expected.length) throw new Error('observed and expected differ in length');
  let statistic = 0;
  let categories = 0;
  for (let i = 0; i < observed.length; i += 1) {
    const e = expected[i] ?? 0;
    if (e === 0) continue;
    const o = observed[i] ?? 0;
    statistic += ((o - e) * (o - e)) / e;
    categories += 1;
  }
  const degreesOfFreedom = categories - 1;
  return { statistic, degreesOfFreedom, pValue: chiSquareSurvival(statistic, degreesOfFreedom) };
}

/** P(X >= x) for X ~ chi-square(k). */
export function chiSquareSurvival(x: number, k: number): number {
  if (x <= 0) return 1;
  return regularizedGammaQ(k / 2, x / 2);
}

/** The x with P(X >= x) = alpha for X ~ chi-square(k), by bisection on the survival function. */
export function chiSquareCriticalValue(alpha: number, k: number): number {
  let low = 0;
  let high = k + 100 * Math.sqrt(2 * k) + 100;
  for (let i = 0; i < 200; i += 1) {
    const mid = (low + high) / 2;
    if (chiSquareSurvival(mid, k) > alpha) low = mid;
    else high = mid;
  }
  return (low + high) / 2;
}

function regularizedGammaQ(a: number, x: number): number {
  if (x < a + 1) return 1 - gammaPSeries(a, x);
  return gammaQContinuedFraction(a, x);
}

function gammaPSeries(a: number, x: number): number {
  let sum = 1 / a;
  let term = sum;
  for (let n = 1; n < 10_000; n += 1) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
}

function gammaQContinuedFraction(a: number, x: number): number {
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i += 1) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/** Lanczos approximation (g = 7, n = 9), accurate to about 15 digits for a > 0. */
function logGamma(z: number): number {
  const g = 7;
  const coefficients = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - logGamma(1 - z);
  const x = z - 1;
  let sum = coefficients[0] ?? 0;
  for (let i = 1; i < g + 2; i += 1) sum += (coefficients[i] ?? 0) / (x + i);
  const t = x + g + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(sum);
}

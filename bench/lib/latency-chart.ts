/**
 * The latency/throughput curve as an SVG line chart: achieved events/s on x, publish -> commit latency on a
 * logarithmic y axis, one line per percentile, and the 50 ms target as a dashed line. Pure: points in, text out.
 */
export interface CurvePoint {
  /** Events per second the worker committed at this step. */
  rate: number;
  p50: number;
  p99: number;
  p999: number;
}

const W = 720;
const H = 420;
const PAD = { left: 64, right: 150, top: 36, bottom: 52 };
const SERIES = [
  { key: 'p50', label: 'p50', color: '#1f77b4' },
  { key: 'p99', label: 'p99', color: '#d62728' },
  { key: 'p999', label: 'p99.9', color: '#9467bd' },
] as const;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function latencyCurveSvg(points: readonly CurvePoint[], title: string, targetMs = 50): string {
  const maxRate = Math.max(1, ...points.map((p) => p.rate)) * 1.05;
  const values = points.flatMap((p) => [p.p50, p.p99, p.p999]).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.max(0.1, Math.min(1, ...values))));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(targetMs * 2, ...values)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (rate: number) => PAD.left + (rate / maxRate) * plotW;
  const y = (ms: number) =>
    PAD.top +
    plotH -
    ((Math.log10(Math.max(ms, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH;
  const parts: string[] = [];
  parts.push(`<title>${esc(title)}</title>`);
  parts.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  for (let decade = lo; decade <= hi; decade *= 10) {
    const yy = y(decade).toFixed(1);
    parts.push(`<line x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
    parts.push(
      `<text x="${PAD.left - 6}" y="${yy}" text-anchor="end" font-size="11" dy="4">${decade} ms</text>`,
    );
  }
  for (let i = 0; i <= 5; i++) {
    const rate = (maxRate / 5) * i;
    const xx = x(rate).toFixed(1);
    parts.push(`<line x1="${xx}" x2="${xx}" y1="${PAD.top}" y2="${PAD.top + plotH}" stroke="#eee"/>`);
    parts.push(
      `<text x="${xx}" y="${PAD.top + plotH + 16}" text-anchor="middle" font-size="11">${Math.round(rate / 1000)}k</text>`,
    );
  }
  parts.push(
    `<text x="${PAD.left + plotW / 2}" y="${H - 12}" text-anchor="middle" font-size="12">committed events/s</text>`,
  );
  const ty = y(targetMs).toFixed(1);
  parts.push(
    `<line x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${ty}" y2="${ty}" stroke="#555" stroke-dasharray="6 4"/>`,
  );
  parts.push(
    `<text x="${PAD.left + plotW + 6}" y="${ty}" font-size="11" dy="4">target ${targetMs} ms</text>`,
  );
  const sorted = [...points].sort((a, b) => a.rate - b.rate);
  SERIES.forEach((s, i) => {
    const path = sorted.map((p) => `${x(p.rate).toFixed(1)},${y(p[s.key]).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${path}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const p of sorted) {
      parts.push(
        `<circle cx="${x(p.rate).toFixed(1)}" cy="${y(p[s.key]).toFixed(1)}" r="3" fill="${s.color}"/>`,
      );
    }
    const ly = PAD.top + 20 + i * 18;
    parts.push(
      `<line x1="${W - PAD.right + 16}" x2="${W - PAD.right + 36}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`,
    );
    parts.push(`<text x="${W - PAD.right + 42}" y="${ly}" font-size="12" dy="4">${s.label}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">\n${parts.join('\n')}\n</svg>\n`;
}

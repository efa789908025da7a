// The CNN scenario's tables and targets: Serval against onnxruntime-node's own limit and the floor, in one run.
import {
  FASTEST_FLOOR,
  limitSettings,
  sameSetting,
  type CnnResults,
  type CnnRow,
  type LimitCell,
} from './cnn.js';
import type { Target } from './report.js';

const fixed = (v: number, digits = 0): string => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const pct = (v: number): string => `${fixed(v * 100)}%`;
const setting = (c: LimitCell): string =>
  `${c.processes} process${c.processes > 1 ? 'es' : ''} × ${c.threads} thread${c.threads > 1 ? 's' : ''}, batch ${c.batch}`;

const floorAt = (r: CnnResults, clients: number): CnnRow | undefined =>
  r.rows.find((row) => row.server === 'floor' && row.clients === clients);

export function cnnSection(r: CnnResults): string {
  const { best, batch1, fastest } = limitSettings(r.limit);
  // The floor's own setting (the batch-1 setting of the most images/s) may be the fastest one's too.
  const alsoFastest = sameSetting(batch1, fastest)
    ? ''
    : `; "${FASTEST_FLOOR}" is the same at one client with the setting of the best batch-1 latency`;
  const header = [
    'Server',
    'Clients',
    'images/s',
    'p50 ms',
    'p99 ms',
    'errors',
    'mean batch',
    '÷ limit',
    '÷ floor',
  ];
  const rows = r.rows.map((row) => {
    const floor = floorAt(r, row.clients);
    const { result } = row;
    return [
      row.server,
      String(row.clients),
      fixed(result.rps),
      fixed(result.p50Ms, 1),
      fixed(result.p99Ms, 1),
      String(result.non2xx + result.errors + result.timeouts),
      row.meanBatch === undefined ? '' : fixed(row.meanBatch, 2),
      pct(result.rps / best.imagesPerS),
      floor && row.server !== 'floor' ? pct(result.rps / floor.result.rps) : '',
    ];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => (row[c] ?? '').length)));
  const line = (cells: string[]) =>
    '| ' + cells.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join(' | ') + ' |';
  return [
    `onnxruntime-node alone (no server, ${r.limit.length} settings: batch 1 to 32, one and two intra-op threads, one ` +
      `process and two at once): the limit is ${fixed(best.imagesPerS)} images/s (${setting(best)}); the best ` +
      `batch-1 latency is ${fixed(fastest.p50Ms, 1)} ms (${setting(fastest)}). The floor runs each request through ` +
      `onnxruntime with the batch-1 setting of the most images/s${alsoFastest}.`,
    '',
    line(header),
    '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|',
    ...rows.map(line),
  ].join('\n');
}

/** The goals for Serval at its defaults against the limit and the floor measured in the same run. */
export function cnnTargets(r: CnnResults): Target[] {
  const { best, batch1, fastest } = limitSettings(r.limit);
  const serval = (server: string, clients: number) =>
    r.rows.find((row) => row.server === server && row.clients === clients);
  const targets: Target[] = [];
  for (const clients of [8, 32, 64]) {
    const row = serval('Serval, V2 binary', clients);
    const floor = floorAt(r, clients);
    if (!row || !floor) continue;
    const errors = row.result.non2xx + row.result.errors + row.result.timeouts;
    const ofLimit = row.result.rps / best.imagesPerS;
    const ofFloor = row.result.rps / floor.result.rps;
    targets.push({
      name: `MobileNetV2 at ${clients} clients, V2 binary: of the limit, of the floor, errors`,
      goal: '≥ 80%, ≥ 92%, 0',
      measured: `${pct(ofLimit)}, ${pct(ofFloor)}, ${errors}`,
      pass: ofLimit >= 0.8 && ofFloor >= 0.92 && errors === 0,
    });
  }
  const one = serval('Serval, V2 binary', 1);
  const bare = serval(FASTEST_FLOOR, 1) ?? (sameSetting(batch1, fastest) ? floorAt(r, 1) : undefined);
  const ofFastest = (row: CnnRow) =>
    `${fixed(row.result.p50Ms, 1)} ms (${fixed(row.result.p50Ms / fastest.p50Ms, 2)}×)`;
  if (one)
    targets.push({
      name: 'MobileNetV2 at 1 client: p50 against the best batch-1 latency',
      goal: '≤ 1.3×',
      measured: ofFastest(one) + (bare ? `; the floor at that setting: ${ofFastest(bare)}` : ''),
      pass: one.result.p50Ms <= fastest.p50Ms * 1.3,
    });
  const at64 = serval('Serval, V2 binary', 64);
  if (at64)
    targets.push({
      name: 'MobileNetV2 at 64 clients: p99 against p50',
      goal: '≤ 2×',
      measured: `${fixed(at64.result.p99Ms / at64.result.p50Ms, 2)}×`,
      pass: at64.result.p99Ms <= at64.result.p50Ms * 2,
    });
  const grpc = [8, 32, 64].map((c) => [serval('Serval, gRPC', c), serval('Serval, V2 binary', c)] as const);
  const worst = Math.min(...grpc.map(([g, v]) => (g && v ? g.result.rps / v.result.rps : Number.NaN)));
  targets.push({
    name: 'MobileNetV2: gRPC against V2 binary (worst of 8, 32, 64 clients)',
    goal: '≥ 90%',
    measured: pct(worst),
    pass: worst >= 0.9,
  });
  return targets;
}

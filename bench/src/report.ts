// Targets, ratios and the two outputs: bench/results/latest.json (everything) and latest.md (the tables and notes).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MachineInfo } from './machine.js';
import type { BenchOptions, StepName } from './options.js';
import { FAST_SCENARIOS, paths, STEP_NAMES } from './options.js';
import type { Measurements, ScenarioResult } from './results.js';

export const RSS_LIMIT_MB = 200;
export const READY_LIMIT_MS = 1000;
export const REVOCATION_LIMIT_MS = 1000;
/** CPU used by other processes above which a scenario's numbers are marked as disturbed. */
export const DISTURBED_PERCENT = 10;

/**
 * The services' processes (the floor, floor-signing, the peer and the argon2 loop are references, with no targets of
 * their own).
 */
const SERVICE_PROCESSES = new Set(['otherclient', 'auth-service', 'auth-service-b']);

/**
 * One target of a scenario: what it asks (`label`, with the measured value), the measured `value` (a ratio for the
 * relative ones) against `limit`, and whether it holds (null: what it compares with was not measured).
 */
export interface Target {
  label: string;
  value: number | null;
  limit: number;
  met: boolean | null;
}

export interface ScenarioRow extends ScenarioResult {
  timesFloor: number | null;
  timesPeer: number | null;
  /**
   * Answers per second of CPU the server used: less sensitive than req/s to other work sharing the machine, so
   * comparable between runs of different noise (though contention also costs some efficiency).
   */
  perServerCpuSecond: number | null;
  targets: Target[];
}

export interface CheckRow {
  check: string;
  measuredMs: number | null;
  target: string;
  met: boolean | null;
}

export interface Report {
  date: string;
  commit: string;
  dirty: boolean;
  machine: MachineInfo;
  settings: Record<string, unknown>;
  scenarios: ScenarioRow[];
  checks: CheckRow[];
  allTargetsMet: boolean;
  notes: string[];
  totalSeconds: number;
}

const percent = (ratio: number) => `${Math.round(ratio * 100)}%`;
const times = (ratio: number) => `${ratio.toFixed(1)}×`;

function atLeast(label: string, value: number, limit: number): Target {
  return { label, value, limit, met: value >= limit };
}

function below(label: string, value: number | null, limit: number): Target {
  return { label, value, limit, met: value !== null && value < limit };
}

/** `value / reference` at least `limit`; not measured when the reference was not run. */
function ratioAtLeast(
  what: string,
  value: number,
  reference: number | undefined,
  limit: number,
  show: (ratio: number) => string,
): Target {
  if (reference === undefined || reference <= 0)
    return { label: `${what}: not measured`, value: null, limit, met: null };
  const ratio = value / reference;
  return { label: `${what} (${show(ratio)})`, value: ratio, limit, met: ratio >= limit };
}

function targetsOf(result: ScenarioResult, rps: (name: StepName) => number | undefined): Target[] {
  const value = result.requestsPerSecond;
  const floor = floorOf(result, rps);
  const targets: Target[] = [];
  switch (result.name) {
    case 'api-token':
    case 'oauth-token':
      targets.push(
        ratioAtLeast('≥40% of floor', value, floor, 0.4, percent),
        ratioAtLeast('≥3× peer', value, rps('peer-token'), 3, times),
        atLeast('≥2,400/s', value, 2400),
      );
      break;
    case 'validate':
      targets.push(ratioAtLeast('≥50% of floor', value, floor, 0.5, percent));
      break;
    case 'refresh':
      targets.push(atLeast('≥2,400/s', value, 2400));
      break;
    case 'login':
      targets.push(
        ratioAtLeast('≥85% of raw argon2', value, rps('argon2-raw'), 0.85, percent),
        atLeast('≥60/s', value, 60),
      );
      break;
    case 'validate-under-login':
      targets.push(below('p99 <20 ms', result.p99Ms, 20));
      break;
    default:
      break;
  }
  if (SERVICE_PROCESSES.has(result.server)) {
    targets.push(below(`RSS <${RSS_LIMIT_MB} MB`, result.peakRssMb, RSS_LIMIT_MB));
    // Numbers made of error answers would be meaningless, whatever they are.
    targets.push(below('no errors', result.errors, 1));
  }
  return targets;
}

const PEER_OF: Partial<Record<StepName, StepName>> = {
  // About the ceiling of issuance against the peer (floor-signing logs two lines per request where otherclient logs one).
  'floor-signing': 'peer-token',
  'api-token': 'peer-token',
  'oauth-token': 'peer-token',
  'oauth-introspect': 'peer-introspect',
};

/**
 * The floor a scenario is compared with: the one measured just before it when there is one (the machine's speed
 * drifts over a run: on a shared host the floor measured minutes apart moved by a third), else the floor step's.
 */
function floorOf(result: ScenarioResult, rps: (name: StepName) => number | undefined): number | undefined {
  return result.floorBeside ?? rps('floor');
}

function scenarioRows(measurements: Measurements, cpuCount: number): ScenarioRow[] {
  const byName = new Map(measurements.scenarios.map((result) => [result.name, result]));
  const rps = (name: StepName) => byName.get(name)?.requestsPerSecond;
  return measurements.scenarios.map((result) => {
    const floor = floorOf(result, rps);
    const peerName = PEER_OF[result.name];
    const peer = peerName === undefined ? undefined : rps(peerName);
    const comparable = FAST_SCENARIOS.has(result.name);
    return {
      ...result,
      timesFloor: comparable && floor ? result.requestsPerSecond / floor : null,
      timesPeer: peer ? result.requestsPerSecond / peer : null,
      perServerCpuSecond:
        result.cpu.serverPercent > 0 ? result.requestsPerSecond / ((result.cpu.serverPercent / 100) * cpuCount) : null,
      targets: targetsOf(result, rps),
    };
  });
}

function checkRows(measurements: Measurements): CheckRow[] {
  const rows: CheckRow[] = Object.entries(measurements.readyMs).map(([process, ms]) => {
    const service = SERVICE_PROCESSES.has(process);
    return {
      check: `ready: ${process}`,
      measuredMs: ms,
      target: service ? `<${READY_LIMIT_MS} ms` : '— (reference)',
      met: service ? ms < READY_LIMIT_MS : null,
    };
  });
  for (const [service, samples] of Object.entries(measurements.readiness ?? {})) {
    const sorted = [...samples].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? null;
    const range = `${(sorted[0] ?? 0).toFixed(0)}–${(sorted.at(-1) ?? 0).toFixed(0)} ms`;
    rows.push({
      check: `ready, median of ${sorted.length} cold starts (${range}): ${service}`,
      measuredMs: median,
      target: `<${READY_LIMIT_MS} ms`,
      met: median !== null && median < READY_LIMIT_MS,
    });
  }
  const revocation = measurements.revocation;
  if (revocation) {
    rows.push({
      check: 'revocation visible on a second instance',
      measuredMs: revocation.visibleMs,
      target: `<${REVOCATION_LIMIT_MS} ms`,
      met: revocation.visibleMs !== null && revocation.visibleMs < REVOCATION_LIMIT_MS,
    });
  }
  return rows;
}

export function buildReport(input: {
  measurements: Measurements;
  machine: MachineInfo;
  git: { commit: string; dirty: boolean };
  options: BenchOptions;
  settings: Record<string, unknown>;
  notes: string[];
  startedAt: Date;
  totalSeconds: number;
}): Report {
  const scenarios = scenarioRows(input.measurements, input.machine.cpuCount);
  const checks = checkRows(input.measurements);
  const verdicts = [
    ...scenarios.flatMap((row) => row.targets.map((target) => target.met)),
    ...checks.map((c) => c.met),
  ];
  return {
    date: input.startedAt.toISOString(),
    commit: input.git.commit,
    dirty: input.git.dirty,
    machine: input.machine,
    settings: input.settings,
    scenarios,
    checks,
    allTargetsMet: !verdicts.includes(false) && input.options.only.size > 0,
    notes: input.notes,
    totalSeconds: input.totalSeconds,
  };
}

const number = (value: number | null, digits = 0) =>
  value === null || !Number.isFinite(value)
    ? '—'
    : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Latencies: autocannon's are whole milliseconds (0 meaning under 1 ms), the fixed-rate load's are not. */
function milliseconds(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '—';
  if (value === 0) return '<1';
  return Number.isInteger(value) ? number(value) : number(value, 1);
}

function verdict(targets: readonly { met: boolean | null }[]): string {
  if (targets.length === 0) return '—';
  if (targets.some((target) => target.met === false)) return '**no**';
  if (targets.some((target) => target.met === null)) return 'not all measured';
  return 'yes';
}

/** The scenario table and the checks table, as printed and as written to latest.md. */
export function markdownTables(report: Report): string {
  const lines = [
    '| scenario | req/s | p50 ms | p99 ms | errors | peak RSS MB | × floor | × peer | target | met? |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|---|',
  ];
  for (const row of report.scenarios) {
    const slow = row.requestsPerSecond < 100;
    lines.push(
      `| ${row.name} | ${number(row.requestsPerSecond, slow ? 1 : 0)} | ${milliseconds(row.p50Ms)} | ${milliseconds(row.p99Ms)} ` +
        `| ${number(row.errors)} | ${number(row.peakRssMb)} | ${row.timesFloor === null ? '—' : `${row.timesFloor.toFixed(2)}`} ` +
        `| ${row.timesPeer === null ? '—' : `${row.timesPeer.toFixed(2)}`} ` +
        `| ${row.targets.map((target) => target.label).join(', ') || '—'} | ${verdict(row.targets)} |`,
    );
  }
  lines.push(
    '',
    '| CPU in the measured window (% of all cores) | server | harness | postgres | other processes | steal | ' +
      'answers per server CPU-second |',
    '|---|---:|---:|---:|---:|---:|---:|',
  );
  for (const { name, cpu, perServerCpuSecond } of report.scenarios) {
    const other = cpu.otherPercent > DISTURBED_PERCENT ? `**${cpu.otherPercent}**` : String(cpu.otherPercent);
    lines.push(
      `| ${name} | ${cpu.serverPercent} | ${cpu.harnessPercent} | ${cpu.postgresPercent} | ${other} | ` +
        `${cpu.stealPercent} | ${number(perServerCpuSecond)} |`,
    );
  }
  lines.push('', '| check | measured ms | target | met? |', '|---|---:|---|---|');
  for (const check of report.checks) {
    lines.push(
      `| ${check.check} | ${number(check.measuredMs, 1)} | ${check.target} | ${check.met === null ? '—' : check.met ? 'yes' : '**no**'} |`,
    );
  }
  return lines.join('\n');
}

export function writeReport(report: Report): { json: string; markdown: string } {
  mkdirSync(paths.results, { recursive: true });
  // Only a full run replaces latest.* (the results the README quotes); a BENCH_ONLY subset goes to subset.*.
  const steps = report.settings.steps as readonly string[];
  const name = steps.length === STEP_NAMES.length ? 'latest' : 'subset';
  const json = join(paths.results, `${name}.json`);
  const markdown = join(paths.results, `${name}.md`);
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  const { machine } = report;
  const text = [
    `# pnpm bench: ${name === 'latest' ? 'latest run' : 'latest subset run'}`,
    '',
    `${report.date}, commit ${report.commit.slice(0, 12)}${report.dirty ? ' (with uncommitted changes)' : ''}, ` +
      `${Math.round(report.totalSeconds)} s in all.`,
    `Machine: ${machine.cpuModel}, ${machine.cpuCount} CPUs, ${machine.ramGb} GB RAM, Node ${machine.node}, ` +
      `PostgreSQL ${machine.postgres ?? '?'}, Linux ${machine.kernel}; load average at start ${machine.loadAverageAtStart}.`,
    `Settings: ${Object.entries(report.settings)
      .map(([key, value]) => `${key} ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
      .join(', ')}.`,
    '',
    markdownTables(report),
    '',
    `All targets met: ${report.allTargetsMet ? 'yes' : 'no'}.`,
    '',
    '## Notes',
    '',
    ...report.notes.map((note) => `- ${note}`),
    '',
  ].join('\n');
  writeFileSync(markdown, text);
  return { json, markdown };
}

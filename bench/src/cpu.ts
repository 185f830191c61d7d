// Where the machine's CPU went during a measured window. The machine is shared (other work may run beside the
// benchmark), and on 2 cores a few percent of someone else's load moves the numbers: each scenario records how much
// CPU the server, the harness, our database's backends and everything else used, so a number can be trusted or not.
import { readdirSync, readFileSync } from 'node:fs';
import { cpuTicks } from './processes.js';

/** Shares of the whole machine (all cores = 100%) during the window. */
export interface CpuShares {
  serverPercent: number;
  harnessPercent: number;
  /** PostgreSQL backends connected to the bench database. */
  postgresPercent: number;
  /** Everything else in user or system time: other processes on the machine. */
  otherPercent: number;
  /** Time the hypervisor gave to other guests. */
  stealPercent: number;
}

function machineTicks(): { userSystem: number; steal: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return {
    userSystem: user + nice + system,
    steal,
    total: user + nice + system + idle + iowait + irq + softirq + steal,
  };
}

/** CPU ticks so far of each PostgreSQL backend serving `databaseName` (their process title names the database). */
function backendTicks(databaseName: string): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let title: string;
    try {
      title = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!title.startsWith('postgres:') || !title.includes(` ${databaseName} `)) continue;
    const used = cpuTicks(Number(entry));
    if (used !== undefined) ticks.set(Number(entry), used);
  }
  return ticks;
}

/** Starts accounting; `stop` returns the shares since then. */
export function watchCpu(serverPid: number, databaseName: string): { stop: () => CpuShares } {
  const machineBefore = machineTicks();
  const serverBefore = cpuTicks(serverPid) ?? 0;
  const harnessBefore = cpuTicks(process.pid) ?? 0;
  const backendsBefore = backendTicks(databaseName);
  return {
    stop() {
      const machine = machineTicks();
      const total = Math.max(1, machine.total - machineBefore.total);
      const server = (cpuTicks(serverPid) ?? serverBefore) - serverBefore;
      const harness = (cpuTicks(process.pid) ?? harnessBefore) - harnessBefore;
      let postgres = 0;
      // A backend born during the window counts from zero; one that ended during it is lost (rare: pools persist).
      for (const [pid, used] of backendTicks(databaseName)) postgres += used - (backendsBefore.get(pid) ?? 0);
      const ours = server + harness + postgres;
      const share = (ticks: number) => Math.round((ticks / total) * 1000) / 10;
      return {
        serverPercent: share(server),
        harnessPercent: share(harness),
        postgresPercent: share(postgres),
        otherPercent: share(Math.max(0, machine.userSystem - machineBefore.userSystem - ours)),
        stealPercent: share(machine.steal - machineBefore.steal),
      };
    },
  };
}

import { readFileSync, writeFileSync } from 'node:fs';

/** VmRSS and VmHWM (peak RSS) of a process, in MiB, from /proc/<pid>/status. */
export function readMemory(pid: number): { rssMb: number; peakMb: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (field: string) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))?.[1] ?? Number.NaN);
  const rss = kib('VmRSS');
  const peak = kib('VmHWM');
  // A process that has exited but not been reaped yet (a zombie) has a status without memory lines.
  if (Number.isNaN(rss) || Number.isNaN(peak)) return undefined;
  return { rssMb: rss / 1024, peakMb: peak / 1024 };
}

/**
 * Watches a server's memory during one scenario. VmHWM is the peak over the process's whole life, and a service
 * serves several scenarios, so it is first reset (writing 5 to /proc/<pid>/clear_refs, Linux >= 4.0, allowed for
 * our own children); VmRSS is also sampled every 100 ms, so the result stays right where the reset is refused.
 */
export function watchMemory(pid: number): { stop: () => number } {
  let resetWorked = true;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    resetWorked = false;
  }
  let sampledPeak = readMemory(pid)?.rssMb ?? 0;
  const timer = setInterval(() => {
    sampledPeak = Math.max(sampledPeak, readMemory(pid)?.rssMb ?? 0);
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      const now = readMemory(pid);
      const hwm = resetWorked && now ? now.peakMb : 0;
      return Math.max(sampledPeak, now?.rssMb ?? 0, hwm);
    },
  };
}

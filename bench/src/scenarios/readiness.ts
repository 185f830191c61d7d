// Readiness over several cold starts of each service. One start's figure moves with whatever else the machine does
// at that moment (a start that met a burst of the hypervisor's steal time measured 3 s where the others took 0.5-0.8),
// so the target is held by the median of several, reported with its range.
import { startServer } from '../processes.js';
import { type Context, has, productionCommand } from './common.js';

/** Cold starts of each service (each one spawned, polled to its first 200, then stopped). */
export const READINESS_STARTS = 7;

export async function readinessScenario(ctx: Context): Promise<void> {
  if (!has(ctx, 'readiness')) return;
  const services = [
    { name: 'otherclient', readyPath: '/api/auth/health', env: ctx.fixtures.otherclientEnv },
    { name: 'auth-service', readyPath: '/auth/health', env: ctx.fixtures.authEnv },
  ] as const;
  const readiness: Record<string, number[]> = {};
  for (const service of services) {
    const samples: number[] = [];
    for (let start = 1; start <= READINESS_STARTS; start++) {
      const server = await startServer({
        name: `${service.name}-start-${start}`,
        ...productionCommand(service.name, service.env),
        readyPath: service.readyPath,
      });
      samples.push(server.readyMs);
      await server.stop();
    }
    readiness[service.name] = samples;
    ctx.log(`${service.name}: ready after ${samples.map((ms) => ms.toFixed(0)).join(', ')} ms`);
  }
  ctx.measurements.readiness = readiness;
}

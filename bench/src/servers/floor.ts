// The floor: the most a Fastify route can do on this machine with the services' framework settings and nothing else,
// so the services' numbers can be read as a fraction of it. Run as plain `node bench/dist/servers/floor.js`.
//
// Exactly what it does: Fastify (the services' version) with `logger: { level: 'info' }`, so pino writes Fastify's
// two request lines ("incoming request", "request completed") as JSON to stdout, which the harness sends to a file
// as it does for the services. One route, `POST /floor`: Fastify's default JSON body parser reads the body (the
// harness sends the same ~90-byte body as `POST /api/auth/token`), there is no schema, no plugin, no database, and
// it answers `{"status":"success"}` with status 200.
import Fastify from 'fastify';
import { listenForHarness } from './listen.js';

const app = Fastify({ logger: { level: 'info' } });

app.post('/floor', async () => ({ status: 'success' }));

await listenForHarness(app);

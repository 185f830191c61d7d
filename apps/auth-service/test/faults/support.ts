// Helpers of the fault tests (not a test file itself): the shared ones of @mxp/testing/faults, with the proxied app
// bound to this service's app, configuration and test settings.
import { startProxiedApp as startSharedProxiedApp } from '@mxp/testing/faults';
import { buildApp } from '../../src/app.js';
import { loadAuthServiceConfig } from '../../src/config.js';
import { testEnv } from '../helpers.js';
import { tempDataDir } from '../routes/support.js';

export {
  ANSWER_WITHIN_MS,
  eventually,
  expectAnswerWithinBound,
  expectEachRecovers,
  expectEnvelope503,
  timed,
  UNLIMITED,
  until,
} from '@mxp/testing/faults';

/** The service on a fresh database reached through a cuttable proxy (see @mxp/testing/faults). */
export function startProxiedApp(env: NodeJS.ProcessEnv = {}) {
  return startSharedProxiedApp({ buildApp, loadConfig: loadAuthServiceConfig, testEnv, dataDir: tempDataDir, env });
}

export type ProxiedApp = Awaited<ReturnType<typeof startProxiedApp>>;

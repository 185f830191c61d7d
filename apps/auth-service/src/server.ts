import { startService } from '@mxp/service-kit';
import { buildApp } from './app.js';
import { loadAuthServiceConfig } from './config.js';

await startService(loadAuthServiceConfig, buildApp);

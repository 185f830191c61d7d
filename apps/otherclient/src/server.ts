import { startService } from '@mxp/service-kit';
import { buildApp } from './app.js';
import { loadOtherclientConfig } from './config.js';

await startService(loadOtherclientConfig, buildApp);

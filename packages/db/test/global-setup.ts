// Builds the migrated template once, before the workers start, and removes databases left by crashed runs.
export { prepareTestTemplate as setup } from '../src/testing.js';

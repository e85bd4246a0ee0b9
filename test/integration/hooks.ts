// Mocha root hooks for the integration suite: bring the local control plane up once (or reuse
// one that is already up), delete each test's fresh namespaces after it, and stop the cluster
// at the end only if this run started it. Operators a test left running are stopped after it. A
// hook never fails: a check belongs to its own test (operatorTest), and a failing root hook would
// make mocha skip every test after it. DEPLOYGUARD_KEEP_CLUSTER=1 keeps the cluster running.
import { deleteFreshNamespaces, ensureCluster, stopCluster } from './cluster.ts';
import { cleanUpOperators } from './operator/harness.ts';

let startedHere = false;

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    // A cold start builds the control plane from source first (tens of minutes on 2 cores).
    this.timeout(80 * 60_000);
    startedHere = (await ensureCluster()).started;
  },
  async afterEach(this: Mocha.Context): Promise<void> {
    this.timeout(90_000);
    // Operators first: they must not react to their test's namespaces being deleted.
    try {
      const cleanup = (async () => {
        await cleanUpOperators();
        await deleteFreshNamespaces();
      })();
      // Bounded below the hook's own timeout: a hook that times out fails, and stops the suite.
      await Promise.race([cleanup, new Promise((r) => setTimeout(r, 80_000).unref())]);
    } catch (err) {
      console.error(`cleanup after "${this.currentTest?.fullTitle()}" failed: ${String(err)}`);
    }
  },
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(120_000);
    if (startedHere && process.env.DEPLOYGUARD_KEEP_CLUSTER !== '1') await stopCluster();
  },
};

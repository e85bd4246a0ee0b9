// Mocha root hooks for the integration suite: bring the local control plane up once (or reuse
// one that is already up), delete each test's fresh namespaces after it, and stop the cluster
// at the end only if this run started it. DEPLOYGUARD_KEEP_CLUSTER=1 keeps it running.
import { deleteFreshNamespaces, ensureCluster, stopCluster } from './cluster.ts';

let startedHere = false;

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    // A cold start builds the control plane from source first (tens of minutes on 2 cores).
    this.timeout(80 * 60_000);
    startedHere = (await ensureCluster()).started;
  },
  async afterEach(this: Mocha.Context): Promise<void> {
    this.timeout(60_000);
    await deleteFreshNamespaces();
  },
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(120_000);
    if (startedHere && process.env.DEPLOYGUARD_KEEP_CLUSTER !== '1') await stopCluster();
  },
};

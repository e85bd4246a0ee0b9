// Mocha root hooks for the integration suite: bring the local control plane up once (or reuse
// one that is already up), delete each test's fresh namespaces after it, and stop the cluster
// at the end only if this run started it. Operators a test started are stopped after it, and an
// operator refused anything by RBAC fails the test. DEPLOYGUARD_KEEP_CLUSTER=1 keeps it running.
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
    const problems = await cleanUpOperators();
    await deleteFreshNamespaces();
    if (problems.length > 0) throw new Error(problems.join('\n'));
  },
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(120_000);
    if (startedHere && process.env.DEPLOYGUARD_KEEP_CLUSTER !== '1') await stopCluster();
  },
};

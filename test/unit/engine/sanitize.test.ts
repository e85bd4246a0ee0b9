import { expect } from 'chai';
import { policyApplies } from '../../../src/engine/match.ts';
import {
  MAX_LABELS,
  MAX_LIST_ITEMS,
  MAX_POD_TEXT,
  MAX_STRING_LENGTH,
  sanitizePod,
} from '../../../src/engine/sanitize.ts';
import { compiled, podJson, view } from '../builders.ts';

describe('sanitize', () => {
  it('reads a well-formed pod with nothing invalid or truncated', () => {
    const s = sanitizePod(
      podJson({
        hostPID: true,
        containers: [
          { name: 'c', image: 'x:1', securityContext: { privileged: true, runAsUser: 0 } },
        ],
      }),
    );
    expect(s?.invalid).to.deep.equal([]);
    expect(s?.truncated).to.deep.equal([]);
    expect(s?.pod.spec.hostPID).to.equal(true);
    expect(s?.pod.spec.containers[0]?.securityContext?.privileged).to.equal(true);
  });

  it('drops fields of the wrong type and names each one, as the API server would refuse them', () => {
    const s = sanitizePod(
      podJson(
        {
          hostPID: 'yes',
          containers: [
            {
              name: 'c',
              image: 'x:1',
              command: 'sh',
              args: ['ok', 7],
              securityContext: { privileged: 'true', runAsUser: 1.5 },
            },
          ],
          volumes: ['oops'],
          tolerations: {},
        },
        { labels: { 'app.kubernetes.io/name': 3 } },
      ),
    );
    expect(s?.invalid).to.have.members([
      'spec.hostPID: must be a boolean',
      'spec.containers[0].command: must be a list',
      'spec.containers[0].args[1]: must be a string',
      'spec.containers[0].securityContext.privileged: must be a boolean',
      'spec.containers[0].securityContext.runAsUser: must be an integer',
      'spec.volumes[0]: must be an object',
      'spec.tolerations: must be a list',
      'metadata.labels[app.kubernetes.io/name]: must be a string',
    ]);
    expect(s?.pod.spec.hostPID).to.equal(undefined);
    expect(s?.pod.spec.containers[0]?.args).to.deep.equal(['ok']);
  });

  it('treats null as absent, as the API server does', () => {
    const s = sanitizePod(
      podJson({
        hostPID: null,
        nodeSelector: null,
        containers: [{ name: 'c', image: 'x:1', securityContext: null }],
      }),
    );
    expect(s?.invalid).to.deep.equal([]);
  });

  it('cuts strings and lists at the bounds and says where', () => {
    const s = sanitizePod(
      podJson({
        containers: [{ name: 'c', image: 'x:1', args: ['a'.repeat(MAX_STRING_LENGTH + 1)] }],
        volumes: Array.from({ length: MAX_LIST_ITEMS + 1 }, (_, i) => ({
          name: `v${i}`,
          emptyDir: {},
        })),
      }),
    );
    expect(s?.truncated).to.have.members(['spec.containers[0].args[0]', 'spec.volumes']);
    expect(s?.pod.spec.containers[0]?.args[0]).to.have.length(MAX_STRING_LENGTH);
    expect(s?.pod.spec.volumes).to.have.length(MAX_LIST_ITEMS);
  });

  it('never cuts an argument a container could really run (128 KiB, the kernel limit)', () => {
    expect(MAX_STRING_LENGTH).to.equal(128 * 1024);
  });

  it('reads workload templates and names template paths pod-rooted', () => {
    const s = sanitizePod({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'cj', namespace: 'ns' },
      spec: {
        jobTemplate: {
          spec: {
            template: {
              metadata: { labels: { a: 'b' } },
              spec: { containers: [{ name: 'c', image: 'x:1', workingDir: 5 }] },
            },
          },
        },
      },
    });
    expect(s?.pod.specPath).to.equal('spec.jobTemplate.spec.template.spec');
    expect(s?.pod.metadata.labels).to.deep.equal({ a: 'b' });
    expect(s?.invalid).to.deep.equal(['spec.containers[0].workingDir: must be a string']);
  });

  it('is not a pod: other kinds and non-objects', () => {
    expect(sanitizePod({ kind: 'Service', spec: {} })).to.equal(undefined);
    expect(sanitizePod('Pod')).to.equal(undefined);
    expect(sanitizePod({ kind: 'toString' })).to.equal(undefined);
  });
});

describe('sanitize: the pod text budget', () => {
  it('cuts command text beyond MAX_POD_TEXT across containers, and reports where', () => {
    const big = 'x'.repeat(100 * 1024);
    const s = sanitizePod({
      kind: 'Pod',
      spec: {
        containers: [
          { name: 'a', image: 'i', command: ['sh', '-c', big] },
          { name: 'b', image: 'i', args: [big], env: [{ name: 'P', value: 'curl x | sh' }] },
        ],
      },
    });
    const [a, b] = s?.pod.spec.containers ?? [];
    const total = [a, b]
      .flatMap((c) => [...(c?.command ?? []), ...(c?.args ?? [])])
      .join('').length;
    expect(total).to.be.at.most(MAX_POD_TEXT);
    expect(a?.command[2]).to.equal(big);
    expect(b?.args[0]?.length).to.equal(MAX_POD_TEXT - big.length - 'sh-c'.length);
    // Text after the budget is spent is cut to nothing, and every cut is reported.
    expect(b?.env[0]?.value).to.equal('');
    expect(s?.truncated).to.deep.equal([
      'spec.containers[1].args[0]',
      'spec.containers[1].env[0].value',
    ]);
  });
});

describe('sanitize: labels', () => {
  const padded = (n: number, extra: Record<string, string> = {}) => {
    const labels: Record<string, string> = {};
    for (let i = 0; i < n; i++) labels[`pad-${String(i).padStart(4, '0')}`] = 'x';
    return { ...labels, ...extra };
  };

  it('keeps up to MAX_LABELS labels, and past them says the pod is oversized', () => {
    const fits = sanitizePod(podJson({}, { labels: padded(MAX_LABELS) }));
    expect(fits?.truncated).to.deep.equal([]);
    expect(fits?.pod.metadata.labelsCut).to.equal(undefined);
    const cut = sanitizePod(podJson({}, { labels: padded(MAX_LABELS, { app: 'web' }) }));
    expect(cut?.truncated).to.deep.equal(['metadata.labels']);
    expect(cut?.pod.metadata.labelsCut).to.equal(true);
    expect(Object.keys(cut?.pod.metadata.labels ?? {})).to.have.length(MAX_LABELS);
  });

  it('fails closed: padding can neither hide a pod from a podSelector nor earn an exclusion', () => {
    // The label the selector reads sits past the bound and is cut.
    const pod = view(podJson({}, { labels: padded(MAX_LABELS, { app: 'web', trusted: 'yes' }) }));
    const selecting = compiled({
      match: { podSelector: { matchLabels: { app: 'web' } } },
      rules: { ownership: {} },
    });
    const excluding = compiled({
      exclude: { podSelector: { matchLabels: { trusted: 'yes' } } },
      rules: { ownership: {} },
    });
    expect(policyApplies(selecting, pod, {})).to.equal(true);
    expect(policyApplies(excluding, pod, {})).to.equal(true);
    // Without padding the same labels select and exempt as written.
    const plain = view(podJson({}, { labels: { app: 'web', trusted: 'yes' } }));
    expect(policyApplies(excluding, plain, {})).to.equal(false);
  });
});

// CordonNode: marks the pod's node unschedulable, so an attacker who escaped to it gets no new
// workloads to steal from, and says on the node who did it and why. Never uncordons: that is a
// human's decision after the incident. The share-of-nodes cap and the control-plane rule are
// guards (guards.ts), not decided here.
import { ANNOTATION_CORDONED_AT, ANNOTATION_CORDONED_BY } from '../api/constants.ts';
import type { CordonNodeAction } from '../api/policy.ts';
import { isNotFound, isUidMismatch } from '../kube/errors.ts';
import { mergePatch } from '../kube/api.ts';
import { nodePath } from '../kube/paths.ts';
import { rfc3339 } from '../kube/wire-time.ts';
import type { RemediationAction } from './action.ts';
import { ruleList } from './action.ts';

export const cordonNode: RemediationAction<CordonNodeAction> = {
  type: 'CordonNode',
  permissions: [{ group: '', resource: 'nodes', verbs: ['patch'] }],
  inEffect({ node }) {
    return node?.unschedulable === true;
  },
  async execute(ctx, { pod, node }) {
    if (!node) return { kind: 'noop', why: 'pod is not bound to a known node' };
    if (node.unschedulable) return { kind: 'noop', why: 'node already cordoned' };
    const by = `${ctx.policy}/${pod.metadata.namespace}/${pod.metadata.name}`;
    try {
      await mergePatch(ctx.api, nodePath(node.name), {
        metadata: {
          uid: node.uid,
          annotations: {
            [ANNOTATION_CORDONED_BY]: by,
            [ANNOTATION_CORDONED_AT]: rfc3339(ctx.now),
          },
        },
        spec: { unschedulable: true },
      });
    } catch (err) {
      if (isNotFound(err) || isUidMismatch(err)) return { kind: 'noop', why: 'node is gone' };
      throw err;
    }
    return {
      kind: 'success',
      event: {
        target: { apiVersion: 'v1', kind: 'Node', name: node.name, uid: node.uid },
        type: 'Warning',
        reason: 'NodeCordoned',
        action: 'CordonNode',
        message: `policy ${ctx.policy} cordoned the node because pod ${pod.metadata.namespace}/${pod.metadata.name} violated ${ruleList(ctx.because)}`,
      },
    };
  },
};

// The four caches the operator keeps (pods, namespaces, nodes, policies), each filled by a
// reflector whose handler only enqueues keys. A new watched kind is one more entry here.
import { POLICY_COLLECTION } from '../api/constants.ts';
import type { Clock } from '../base/clock.ts';
import { jsonEqual } from '../base/json.ts';
import type { Log } from '../base/log.ts';
import type { Config } from '../config.ts';
import {
  cachedNetworkPolicy,
  type CachedNetworkPolicy,
} from '../controllers/pod/cached-network-policy.ts';
import { cachedPod, type CachedPod } from '../controllers/pod/cached-pod.ts';
import { SharedValues } from '../controllers/pod/shared-values.ts';
import { namespaceInfo, type NamespaceInfo } from '../controllers/pod/cached-namespace.ts';
import { nodeInfo } from '../controllers/pod/cached-node.ts';
import { policyObject, type PolicyObject } from '../controllers/policy/cached-policy.ts';
import type { KubeApi } from '../kube/api.ts';
import { namespacesPath, nodePath, podsPath, resourcePath } from '../kube/paths.ts';
import { Reflector, type Change, type ReflectorOptions } from '../kube/reflector.ts';
import { Store } from '../kube/store.ts';
import { reflectorMetrics, type Metrics } from '../observability/metrics.ts';
import type { NodeInfo } from '../remediation/action.ts';
import { Informers } from '../runtime/informers.ts';

export interface Caches {
  pods: Store<CachedPod>;
  namespaces: Store<NamespaceInfo>;
  nodes: Store<NodeInfo>;
  policies: Store<PolicyObject>;
  /** The NetworkPolicies labelled as the Isolate action's (the label proves nothing: isolate.ts checks the spec). */
  networkPolicies: Store<CachedNetworkPolicy>;
}

export function createCaches(): Caches {
  return {
    pods: new Store(),
    namespaces: new Store(),
    nodes: new Store(),
    policies: new Store(),
    networkPolicies: new Store(),
  };
}

/** What the caches tell the controllers: only keys, never objects to act on. */
export interface CacheHandlers {
  pod(c: Change<CachedPod>): void;
  namespaceLabelsChanged(namespace: string): void;
  policy(key: string): void;
  /** A pod's isolation NetworkPolicy changed (or went): its pod is looked at again. */
  isolationChanged(podKey: string): void;
}

/** The reflectors that fill the caches, as one component. */
export function buildInformers(o: {
  caches: Caches;
  config: Readonly<Config>;
  api: KubeApi;
  metrics: Metrics;
  log: Log;
  clock: Clock;
  on: CacheHandlers;
}): Informers {
  const { caches } = o;
  const informers = new Informers(o.clock);
  const m = reflectorMetrics(o.metrics);
  const add = <T>(
    resource: string,
    rest: Pick<ReflectorOptions<T>, 'listPath' | 'transform' | 'store' | 'onChange' | 'query'>,
  ): void =>
    informers.add(
      new Reflector<T>({
        resource,
        api: o.api,
        metrics: m,
        clock: o.clock,
        log: o.log.child({ component: 'reflector', resource }),
        ...rest,
      }),
    );
  const { config } = o;
  const shared = new SharedValues();
  add('pods', {
    listPath: podsPath(config.watchNamespace),
    transform: (raw) => cachedPod(raw, shared),
    store: caches.pods,
    onChange: o.on.pod,
  });
  add('namespaces', {
    listPath: namespacesPath(),
    transform: namespaceInfo,
    store: caches.namespaces,
    onChange: (c) => {
      if (c.type === 'updated' && c.old && jsonEqual(c.old.labels, c.object.labels)) return;
      o.on.namespaceLabelsChanged(c.object.name);
    },
  });
  add('nodes', {
    listPath: nodePath(),
    transform: nodeInfo,
    store: caches.nodes,
    onChange: () => {},
  });
  add('networkpolicies', {
    listPath: resourcePath({
      group: 'networking.k8s.io',
      version: 'v1',
      resource: 'networkpolicies',
    }),
    transform: cachedNetworkPolicy,
    store: caches.networkPolicies,
    onChange: (c) => {
      if (c.object.pod) o.on.isolationChanged(`${c.object.namespace}/${c.object.pod}`);
    },
    query: { labelSelector: 'app.kubernetes.io/managed-by=deployguard' },
  });
  add('policies', {
    listPath: POLICY_COLLECTION,
    transform: policyObject,
    store: caches.policies,
    onChange: (c) => o.on.policy(c.key),
    query: config.policySelector ? { labelSelector: config.policySelector } : undefined,
  });
  return informers;
}

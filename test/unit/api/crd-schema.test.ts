// The schema itself: what `kubectl explain` shows, what the API server can bound, and that the
// enums and defaults are the ones the rest of the code (constants.ts, parse.ts) relies on.
import { expect } from 'chai';
import { ACTION_TYPES, MODES, SEVERITIES, WEEKDAYS } from '../../../src/api/constants.ts';
import { policySchema } from '../../../src/api/schema.ts';
import type { JSONSchemaProps } from '../../../src/api/schema.ts';

/** Every schema node with its dotted path; `[]` marks list items and `{}` map values. */
function nodes(s: JSONSchemaProps, path = ''): [string, JSONSchemaProps][] {
  const out: [string, JSONSchemaProps][] = [[path, s]];
  for (const [name, p] of Object.entries(s.properties ?? {})) {
    out.push(...nodes(p, path ? `${path}.${name}` : name));
  }
  if (s.items) out.push(...nodes(s.items, `${path}[]`));
  if (s.additionalProperties) out.push(...nodes(s.additionalProperties, `${path}{}`));
  return out;
}

function at(path: string): JSONSchemaProps {
  const found = nodes(policySchema).find(([p]) => p === path);
  if (!found) throw new Error(`no schema node at ${path}`);
  return found[1];
}

const all = nodes(policySchema);
// The API server forbids a description (or anything but type) on the root metadata.
const described = all.filter(([p]) => p !== 'metadata');

// Keywords parse.ts understands; anything else would be enforced by the API server only.
const KNOWN_KEYWORDS = new Set([
  'description',
  'type',
  'format',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'default',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'maxItems',
  'maxProperties',
  'pattern',
  'x-kubernetes-validations',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
]);

describe('policySchema', () => {
  it('describes every property and every object inside a list', () => {
    const missing = described
      .filter(([p, s]) => !/[\]}]$/.test(p) || s.type === 'object')
      .filter(([, s]) => !s.description?.trim())
      .map(([p]) => p);
    expect(missing).to.deep.equal([]);
  });

  it('bounds every string, list and map so CEL cost estimates pass', () => {
    // apiVersion and kind are checked by the API machinery before the schema sees them.
    const unbounded = all
      .filter(([p]) => p !== 'apiVersion' && p !== 'kind')
      .filter(([, s]) => {
        if (s.type === 'string') return s.maxLength === undefined && !s.enum && !s.format;
        if (s.type === 'array') return s.maxItems === undefined;
        if (s.type === 'object' && s.additionalProperties) return s.maxProperties === undefined;
        return false;
      })
      .map(([p]) => p);
    expect(unbounded).to.deep.equal([]);
  });

  it('types every node and uses only keywords the parser understands', () => {
    for (const [p, s] of all) {
      expect(s.type, p || '(root)').to.be.a('string');
      for (const k of Object.keys(s)) expect(KNOWN_KEYWORDS.has(k), `${p}: ${k}`).to.equal(true);
    }
  });

  it('requires only properties that exist', () => {
    for (const [p, s] of all) {
      for (const r of s.required ?? []) expect(s.properties, p).to.have.property(r);
    }
  });

  it('gives every CEL rule a message', () => {
    const rules = all.flatMap(([, s]) => s['x-kubernetes-validations'] ?? []);
    expect(rules.length).to.be.greaterThan(10);
    for (const r of rules) expect(r.message.trim(), r.rule).not.to.equal('');
  });

  it('uses the runtime constants for its enums', () => {
    expect(at('spec.mode').enum).to.deep.equal(MODES);
    expect(at('spec.severity{}').enum).to.deep.equal(SEVERITIES);
    expect(at('spec.actions[].minSeverity').enum).to.deep.equal(SEVERITIES);
    expect(at('spec.actions[].type').enum).to.deep.equal(ACTION_TYPES);
    expect(at('spec.rules.schedule.allowedWindows[].days[]').enum).to.deep.equal(WEEKDAYS);
    expect(at('spec.rules.podSecurity.level').enum).to.deep.equal(['baseline', 'restricted']);
    expect(at('status.breaker').enum).to.deep.equal(['Closed', 'Open']);
    for (const sel of [
      'spec.match.namespaceSelector',
      'spec.match.podSelector',
      'spec.exclude.podSelector',
    ]) {
      expect(at(`${sel}.matchExpressions[].operator`).enum).to.deep.equal([
        'In',
        'NotIn',
        'Exists',
        'DoesNotExist',
      ]);
    }
  });

  it('applies the agreed defaults (parse.ts applies the same)', () => {
    const expected: Record<string, unknown> = {
      'spec.mode': 'Audit',
      'spec.match': {},
      'spec.match.namespaces': ['*'],
      'spec.match.excludeNamespaces': [],
      'spec.match.podSelector.matchLabels': {},
      'spec.match.podSelector.matchExpressions': [],
      'spec.match.podSelector.matchExpressions[].values': [],
      'spec.exclude': {},
      'spec.exclude.images': [],
      'spec.exclude.serviceAccounts': [],
      'spec.rules.podSecurity.version': 'latest',
      'spec.rules.podSecurity.exemptChecks': [],
      'spec.rules.images.allowedRegistries': [],
      'spec.rules.images.deniedImages': [],
      'spec.rules.images.requireDigest': false,
      'spec.rules.images.disallowLatestTag': true,
      'spec.rules.hostPaths.denySensitive': true,
      'spec.rules.hostPaths.denied': [],
      'spec.rules.indicators.enabled': true,
      'spec.rules.scheduling.denyNodeName': true,
      'spec.rules.scheduling.denyHostnameSelector': true,
      'spec.rules.scheduling.denyControlPlaneTolerations': true,
      'spec.rules.ownership.denyBarePods': true,
      'spec.rules.schedule.allowedWindows[].timeZone': 'UTC',
      'spec.severity': {},
      'spec.actions': [],
      'spec.guards': {},
      'spec.guards.maxActionsPerMinute': 30,
      'spec.guards.protectedNamespaces': ['kube-system'],
      'spec.guards.maxCordonedNodesPercent': 20,
      'spec.guards.ignoreOwnerKinds': [],
    };
    for (const [path, value] of Object.entries(expected)) {
      expect(at(path).default, path).to.deep.equal(value);
    }
  });

  it('leaves rule blocks, required fields and DeletePod-only fields without defaults', () => {
    // An absent rule block is not checked, so it must stay absent; evict exists only on
    // DeletePod, so a schema default would put it on every action and trip the CEL rule.
    const rules = at('spec.rules');
    for (const [name, block] of Object.entries(rules.properties ?? {})) {
      expect(block.default, name).to.equal(undefined);
    }
    for (const path of [
      'spec',
      'spec.rules',
      'spec.rules.podSecurity.level',
      'spec.rules.commands.deniedPatterns',
      'spec.rules.schedule.allowedWindows',
      'spec.actions[].minSeverity',
      'spec.actions[].evict',
      'spec.actions[].gracePeriodSeconds',
    ]) {
      expect(at(path).default, path).to.equal(undefined);
    }
  });

  it('defines the label selector once for every selector', () => {
    const shared = at('spec.match.namespaceSelector').properties;
    expect(at('spec.match.podSelector').properties).to.equal(shared);
    expect(at('spec.exclude.podSelector').properties).to.equal(shared);
  });

  it('keys status.conditions by type', () => {
    const c = at('status.conditions');
    expect(c['x-kubernetes-list-type']).to.equal('map');
    expect(c['x-kubernetes-list-map-keys']).to.deep.equal(['type']);
    expect(c.items?.required).to.include('type');
  });
});

// The generated CRD and field reference: committed files equal what the generator writes, the CRD
// declares the names the API contract fixes, and the samples in config/ fit the schema.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import * as prettier from 'prettier';
import { parse, parseAllDocuments } from 'yaml';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../../../src/api/constants.ts';
import {
  CRD_PATH,
  GENERATED_NOTICE,
  REFERENCE_PATH,
  crdObject,
  renderCrd,
  renderPolicyReference,
} from '../../../src/api/crd.ts';
import { policySchema } from '../../../src/api/schema.ts';
import type { JSONSchemaProps } from '../../../src/api/schema.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');
const REGENERATE = 'out of date: run `node scripts/generate-crd.ts` and commit the result';

interface Crd {
  spec: {
    group: string;
    scope: string;
    names: Record<string, unknown>;
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: Record<string, unknown>;
      additionalPrinterColumns: { name: string; type: string; jsonPath: string }[];
      schema: { openAPIV3Schema: JSONSchemaProps };
    }[];
  };
}

/** Problems a sample has against the schema: unknown fields, wrong types, values outside enums. */
function misfits(value: unknown, s: JSONSchemaProps, path: string): string[] {
  if (s.type === 'object' && !s.properties && !s.additionalProperties) return []; // metadata
  if (s.type === 'object') {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return [`${path}: not an object`];
    return Object.entries(value).flatMap(([k, v]) => {
      const child = s.properties?.[k] ?? s.additionalProperties;
      return child ? misfits(v, child, `${path}.${k}`) : [`${path}.${k}: unknown field`];
    });
  }
  if (s.type === 'array') {
    if (!Array.isArray(value)) return [`${path}: not a list`];
    return s.items ? value.flatMap((v, i) => misfits(v, s.items!, `${path}[${i}]`)) : [];
  }
  const actual = Number.isInteger(value) ? 'integer' : typeof value;
  if (actual !== s.type) return [`${path}: ${actual}, want ${s.type}`];
  if (s.enum && !s.enum.includes(value as string)) return [`${path}: ${String(value)} not in enum`];
  return [];
}

describe('CRD', () => {
  it(`${CRD_PATH} equals what the generator writes`, () => {
    expect(read(CRD_PATH) === renderCrd(), REGENERATE).to.equal(true);
  });

  it(`${REFERENCE_PATH} equals what the generator writes`, () => {
    expect(read(REFERENCE_PATH) === renderPolicyReference(), REGENERATE).to.equal(true);
  });

  it('is already formatted as prettier would format it', async () => {
    const options = await prettier.resolveConfig(join(root, CRD_PATH));
    const text = renderCrd();
    const formatted = await prettier.format(text, { ...options, filepath: join(root, CRD_PATH) });
    expect(formatted === text, 'prettier would reformat the generated CRD').to.equal(true);
  });

  it('starts with the generated-file notice', () => {
    expect(renderCrd().split('\n')[0]).to.equal(`# ${GENERATED_NOTICE}`);
    expect(renderPolicyReference()).to.contain(GENERATED_NOTICE);
  });

  it('declares the names, scope and version of the API contract', () => {
    const crd = parse(renderCrd()) as Crd;
    expect(crd).to.deep.equal(JSON.parse(JSON.stringify(crdObject())));
    expect(crd).to.have.nested.property('metadata.name', `${PLURAL}.${GROUP}`);
    expect(crd.spec.group).to.equal(GROUP);
    expect(crd.spec.scope).to.equal('Cluster');
    expect(crd.spec.names).to.deep.equal({
      kind: KIND,
      listKind: `${KIND}List`,
      plural: PLURAL,
      singular: 'containerdeploymentpolicy',
      shortNames: ['cdp', 'cdps'],
      categories: ['deployguard'],
    });
    expect(crd.spec.versions).to.have.length(1);
    const v = crd.spec.versions[0]!;
    expect([v.name, v.served, v.storage]).to.deep.equal([VERSION, true, true]);
    expect(v.subresources).to.deep.equal({ status: {} });
    expect(v.schema.openAPIV3Schema).to.deep.equal(JSON.parse(JSON.stringify(policySchema)));
  });

  it('prints Mode, Ready, Violating, Actions and Age', () => {
    const v = (parse(renderCrd()) as Crd).spec.versions[0]!;
    expect(v.additionalPrinterColumns.map((c) => [c.name, c.type, c.jsonPath])).to.deep.equal([
      ['Mode', 'string', '.spec.mode'],
      ['Ready', 'string', '.status.conditions[?(@.type=="Ready")].status'],
      ['Violating', 'integer', '.status.violatingPods'],
      ['Actions', 'integer', '.status.totalActions'],
      ['Age', 'date', '.metadata.creationTimestamp'],
    ]);
    // Every column must point at a field the schema has, or kubectl shows it blank forever.
    for (const path of [
      'spec.mode',
      'status.violatingPods',
      'status.totalActions',
      'status.conditions',
    ]) {
      let s: JSONSchemaProps | undefined = policySchema;
      for (const part of path.split('.')) s = s?.properties?.[part];
      expect(s, path).not.to.equal(undefined);
    }
  });
});

describe('kustomize layout', () => {
  it('crds/kustomization.yaml lists the CRD and config/crd points at crds/', () => {
    expect(parse(read('crds/kustomization.yaml')).resources).to.deep.equal([
      CRD_PATH.slice('crds/'.length),
    ]);
    expect(parse(read('config/crd/kustomization.yaml')).resources).to.deep.equal(['../../crds']);
  });

  const sampleFiles = readdirSync(join(root, 'config/samples'))
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .sort();

  it('config/samples/kustomization.yaml lists every sample', () => {
    const listed = parse(read('config/samples/kustomization.yaml')).resources as string[];
    expect([...listed].sort()).to.deep.equal(sampleFiles);
    expect(sampleFiles.length).to.be.greaterThanOrEqual(4);
  });

  for (const file of sampleFiles) {
    it(`sample ${file} fits the schema`, () => {
      const docs = parseAllDocuments(read(`config/samples/${file}`));
      for (const doc of docs) {
        const obj = doc.toJS() as { apiVersion: string; kind: string; metadata: { name: string } };
        expect([obj.apiVersion, obj.kind]).to.deep.equal([API_VERSION, KIND]);
        expect(`${obj.metadata.name}.yaml`).to.equal(file);
        expect(misfits(obj, policySchema, '')).to.deep.equal([]);
      }
    });
  }
});

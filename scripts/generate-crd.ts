// Writes the CRD and the field reference from src/api/schema.ts. Run after changing the schema:
//   node scripts/generate-crd.ts
// test/unit/api/crd.test.ts fails while the committed files differ from what this would write.
// The Helm chart carries the same CRD in its crds/ (Helm installs that before the templates);
// test/unit/chart-crds.test.ts keeps the two copies byte-identical.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CRD_PATH, REFERENCE_PATH, renderCrd, renderPolicyReference } from '../src/api/crd.ts';

const root = join(import.meta.dirname, '..');
const CHART_CRD_PATH = `charts/deployguard/${CRD_PATH}`;
for (const [path, text] of [
  [CRD_PATH, renderCrd()],
  [CHART_CRD_PATH, renderCrd()],
  [REFERENCE_PATH, renderPolicyReference()],
] as const) {
  writeFileSync(join(root, path), text);
  console.log(`wrote ${path}`);
}

// Volume checks: baseline forbids hostPath; restricted allows only a short list of inline sources and
// replaces the baseline check.
import type { PodView, Volume } from '../../pod.ts';
import type { Problem, PssCheck } from './check.ts';
import { NONE, quote } from './check.ts';

function isHostPath(v: Volume): boolean {
  // `sources` also catches a hostPath whose content the sanitizer could not read.
  return v.hostPath !== undefined || v.sources.includes('hostPath');
}

function hostPathVolumes(pod: PodView): Problem[] {
  let out: Problem[] | undefined;
  const volumes = pod.spec.volumes;
  for (let i = 0; i < volumes.length; i++) {
    const v = volumes[i] as Volume;
    if (isHostPath(v))
      (out ??= []).push({
        path: `spec.volumes[${i}].hostPath`,
        message: `volume ${quote(v.name)} must not be a hostPath volume (${quote(v.hostPath?.path)})`,
      });
  }
  return out ?? NONE;
}

const ALLOWED_SOURCES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'image',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);
const ALLOWED_LIST = [...ALLOWED_SOURCES].join(', ');

// The inline sources upstream names as restricted (any other unknown field is simply "no source").
const RESTRICTED_SOURCES = new Set([
  'hostPath',
  'gcePersistentDisk',
  'awsElasticBlockStore',
  'gitRepo',
  'nfs',
  'iscsi',
  'glusterfs',
  'rbd',
  'flexVolume',
  'cinder',
  'cephfs',
  'flocker',
  'fc',
  'azureFile',
  'vsphereVolume',
  'quobyte',
  'azureDisk',
  'photonPersistentDisk',
  'portworxVolume',
  'scaleIO',
  'storageos',
]);

function restrictedVolumes(pod: PodView): Problem[] {
  let out: Problem[] | undefined;
  const volumes = pod.spec.volumes;
  for (let i = 0; i < volumes.length; i++) {
    const v = volumes[i] as Volume;
    // A volume without any source is fine: the API server defaults it to emptyDir. Every source
    // outside the allowed list is reported. Upstream stops at the first allowed source, but the
    // API server refuses a volume with two sources, so both readings agree on any pod that can
    // exist; for a hand-written file this keeps an allowed source (or padding the sanitizer cut
    // off) from hiding a forbidden one. A source upstream doesn't name is a volume type newer
    // than its list, which it reports as "unknown".
    if (v.sources.every((s) => ALLOWED_SOURCES.has(s))) continue;
    for (const source of v.sources.filter((s) => !ALLOWED_SOURCES.has(s)).slice(0, 8)) {
      const kind = RESTRICTED_SOURCES.has(source) ? 'restricted' : 'unknown';
      (out ??= []).push({
        path: `spec.volumes[${i}].${source}`,
        message: `volume ${quote(v.name)} must not use the ${kind} volume type ${quote(source)} (allowed: ${ALLOWED_LIST})`,
      });
    }
  }
  return out ?? NONE;
}

export const VOLUME_CHECKS: readonly PssCheck[] = [
  { id: 'hostPathVolumes', level: 'baseline', versions: [{ since: 0, check: hostPathVolumes }] },
  {
    id: 'restrictedVolumes',
    level: 'restricted',
    versions: [{ since: 0, check: restrictedVolumes, overrides: ['hostPathVolumes'] }],
  },
];

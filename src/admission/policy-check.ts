// A ContainerDeploymentPolicy checked at `kubectl apply` with the parser the operator loads it with,
// so what the API server accepts is what the operator can enforce: a bad regex, time zone, Pod
// Security version or rule ID is refused with the field named, instead of being created and turning
// Ready=False later while GitOps shows green. Pure.
import { jsonEqual, asObject } from '../base/json.ts';
import { describeProblems, parsePolicy } from '../engine/parse-policy.ts';
import type { AdmissionRequest, AdmissionResponse } from './review.ts';

export function checkPolicy(request: AdmissionRequest): AdmissionResponse {
  const allowed: AdmissionResponse = { uid: request.uid, allowed: true };
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return allowed;
  // Only the spec is the parser's: a label, an annotation or a finalizer removed from a policy
  // admitted while the webhook was down is never refused (its Ready=False says what is wrong).
  if (
    request.operation === 'UPDATE' &&
    jsonEqual(asObject(request.object)?.spec, asObject(request.oldObject)?.spec)
  )
    return allowed;
  const result = parsePolicy(request.object);
  if (result.ok) return allowed;
  const name = result.name ?? request.name;
  return {
    uid: request.uid,
    allowed: false,
    status: {
      code: 422,
      reason: 'Invalid',
      message: `ContainerDeploymentPolicy "${name}" is invalid: ${describeProblems(result.problems)}`,
    },
  };
}

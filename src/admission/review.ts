// An AdmissionReview (admission.k8s.io/v1) as the webhook reads it and answers it. Only the API
// server calls the webhook, but the body is still read by narrowing: a malformed review is a 400,
// never a crash, and nothing in it is trusted beyond what the API server itself vouches for.
import { asObject, type Json } from '../base/json.ts';

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
}

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource: GroupVersionResource;
  subResource: string;
  operation: string;
  namespace: string;
  name: string;
  object: unknown;
  oldObject: unknown;
  dryRun: boolean;
  userInfo: UserInfo;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  /** For a refusal: the HTTP code and message the API server returns to the client. */
  status?: { code: number; reason: string; message: string };
  /** Admitted (or refused) with these lines, which kubectl prints as `Warning:`. */
  warnings?: string[];
}

export const REVIEW_API_VERSION = 'admission.k8s.io/v1';

/** The request of a review, or what is wrong with it. */
export function readReview(body: unknown): AdmissionRequest | { problem: string } {
  const review = asObject(body);
  if (review?.apiVersion !== REVIEW_API_VERSION || review.kind !== 'AdmissionReview')
    return { problem: `not an ${REVIEW_API_VERSION} AdmissionReview` };
  const r = asObject(review.request);
  if (!r || typeof r.uid !== 'string' || r.uid === '') return { problem: 'request.uid is missing' };
  const kind = asObject(r.kind) ?? {};
  const resource = asObject(r.resource) ?? {};
  const user = asObject(r.userInfo) ?? {};
  return {
    uid: r.uid,
    kind: { group: str(kind.group), version: str(kind.version), kind: str(kind.kind) },
    resource: {
      group: str(resource.group),
      version: str(resource.version),
      resource: str(resource.resource),
    },
    subResource: str(r.subResource),
    operation: str(r.operation),
    namespace: str(r.namespace),
    name: str(r.name),
    object: r.object ?? undefined,
    oldObject: r.oldObject ?? undefined,
    dryRun: r.dryRun === true,
    userInfo: {
      username: str(user.username),
      ...(typeof user.uid === 'string' ? { uid: user.uid } : {}),
      groups: Array.isArray(user.groups)
        ? user.groups.filter((g): g is string => typeof g === 'string')
        : [],
    },
  };
}

/** The review to send back. */
export function reviewAnswer(response: AdmissionResponse): Json {
  return { apiVersion: REVIEW_API_VERSION, kind: 'AdmissionReview', response };
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

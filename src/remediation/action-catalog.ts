// The registry of remediation actions, by the type name policies use.
import type { ActionType } from '../api/constants.ts';
import type { PolicyAction } from '../api/policy.ts';
import type { Permission, RemediationAction } from './action.ts';
import { cordonNode } from './cordon-node.ts';
import { deletePod } from './delete-pod.ts';
import { isolatePod } from './isolate.ts';
import { labelPod } from './label.ts';

export const ACTIONS: Readonly<Record<ActionType, RemediationAction>> = {
  Label: labelPod as RemediationAction,
  Isolate: isolatePod as RemediationAction,
  DeletePod: deletePod as RemediationAction,
  CordonNode: cordonNode as RemediationAction,
};

export function actionFor(a: PolicyAction): RemediationAction {
  return ACTIONS[a.type];
}

/** Everything the actions need from RBAC. */
export function actionPermissions(): Permission[] {
  return Object.values(ACTIONS).flatMap((a) => a.permissions);
}

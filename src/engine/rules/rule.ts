import type { PodView } from '../pod.ts';

/** What every rule family sees besides its own settings. The clock is passed in: the engine has none. */
export interface RuleContext {
  pod: PodView;
  namespaceLabels: Readonly<Record<string, string>>;
  now: Date;
}

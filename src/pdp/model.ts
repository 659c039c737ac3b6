import type { ConditionTemplate } from './conditions.ts';
import type { Placeholder } from './placeholders.ts';
import type { PolicyRoute } from './types.ts';

/** In `roles`: any subject; in `actions`: every action (CASL's "any action" is set to it). */
export const ANY = '*';

/** A validated rule, ready to be turned into CASL rules once its placeholders have values. */
export interface CompiledRule {
  readonly id: string;
  readonly resource: string;
  /** Position in the set (files by name, then rules in file order): the first declared wins. */
  readonly order: number;
  readonly effect: 'allow' | 'deny';
  readonly roles: readonly string[];
  readonly actions: readonly string[];
  readonly fields?: readonly string[];
  readonly reason?: string;
  readonly when?: ConditionTemplate;
  /** Placeholders `when` uses, analysed once at compile time. */
  readonly placeholders: readonly Placeholder[];
}

/** One policy file: a resource type with its rules and gateway routes. */
export interface CompiledResource {
  readonly type: string;
  readonly file: string;
  readonly rules: readonly CompiledRule[];
  readonly routes: readonly PolicyRoute[];
}

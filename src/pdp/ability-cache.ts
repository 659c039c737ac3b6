import { LRUCache } from 'lru-cache';
import { buildAbility, type EngineAbility } from './abilities.ts';
import type { Scalar } from './attribute-path.ts';
import type { PlaceholderValues } from './instantiate.ts';
import type { CompiledRule } from './model.ts';
import type { Placeholder } from './placeholders.ts';
import type { ResourceRules } from './resource-rules.ts';
import type { Subject } from './types.ts';

/** Counters for tests and metrics: how often an ability had to be built, how often it was reused. */
export interface AbilityCacheStats {
  /** Abilities built since the policy set was compiled. */
  builds: number;
  /** Rules instantiated into those abilities. */
  rulesBuilt: number;
  /** Lookups answered without building anything. */
  hits: number;
  /** Abilities currently cached (per role set, and per role set × placeholder values). */
  size: number;
}

/**
 * Rules of one role set that get one ability, keyed only by the values of the group's own
 * placeholders. In a large role set, rules are grouped by the placeholders they use: rules
 * without placeholders are built once per role set, rules on `${subject.attrs.tenant}` once
 * per tenant, and only the few rules that mention `${subject.id}` once per subject.
 */
interface RuleGroup {
  rules: readonly CompiledRule[];
  /** Positions of the group's placeholders in its role set's `placeholders`. */
  uses: readonly number[];
  /** Built with the role set when the group has no placeholders. */
  fixed: EngineAbility | undefined;
}

interface RoleSet {
  groups: readonly RuleGroup[];
  /** Every placeholder of every group, each once. */
  placeholders: readonly Placeholder[];
  /** The answer to every lookup when no group has placeholders. */
  fixed: readonly EngineAbility[] | undefined;
}

export interface AbilityCacheOptions {
  /** Bound of the ability LRU and of the selection LRU (default 10,000 each). */
  maxAbilities?: number;
  /** Rough bound, in bytes, of each of those LRUs (default 64 MiB). */
  maxBytes?: number;
  /** Bound of the role-set LRU (default 1,000). */
  maxRoleSets?: number;
}

// Keys hold the placeholder values, and the abilities hold them again: a caller sending huge
// attribute values must not be able to make a count-bounded cache grow without limit.
const ENTRY_OVERHEAD_BYTES = 2_000;

function bounded<V extends object>(options: AbilityCacheOptions): LRUCache<string, V> {
  return new LRUCache<string, V>({
    max: options.maxAbilities ?? 10_000,
    maxSize: options.maxBytes ?? 64 * 1024 * 1024,
    sizeCalculation: (_value, key) => key.length * 2 + ENTRY_OVERHEAD_BYTES,
  });
}

const EMPTY_VALUES: PlaceholderValues = new Map();

/**
 * Up to this many rules, a role set's rules form one group (one ability per request); above
 * it, they are grouped by placeholders so that a new subject only rebuilds the rules that
 * mention it — rebuilding thousands of rules takes tens of milliseconds.
 */
const ONE_GROUP_MAX_RULES = 64;

/**
 * Abilities keyed by what can change them — resource type, the subject's relevant roles, and the
 * values of exactly the placeholders a rule group uses — and kept in bounded LRUs, so a
 * repeated key never rebuilds anything and a flood of distinct subjects cannot grow memory.
 *
 * Two levels keep the hot path to one key: a *selection* (the abilities of every group for one
 * role set and all its placeholder values) is found with a single lookup; only when it is new
 * are the groups looked up one by one, and only the groups whose values are new are built.
 */
export class AbilityCache {
  readonly #roleSets: LRUCache<string, RoleSet>;
  readonly #selections: LRUCache<string, readonly EngineAbility[]>;
  readonly #abilities: LRUCache<string, EngineAbility>;
  #builds = 0;
  #rulesBuilt = 0;
  #hits = 0;

  constructor(options: AbilityCacheOptions = {}) {
    this.#roleSets = new LRUCache({ max: options.maxRoleSets ?? 1_000 });
    this.#selections = bounded(options);
    this.#abilities = bounded(options);
  }

  /** The abilities that decide for this subject and context, one per rule group. */
  lookup(
    rules: ResourceRules,
    subject: Subject,
    context: Record<string, unknown> | undefined,
  ): readonly EngineAbility[] {
    const buildsBefore = this.#builds;
    const roles = rules.relevantRoles(subject.roles);
    // Roles and type names have no whitespace (schema.ts), so "\n" cannot make two keys collide.
    const roleKey = roles.length === 0 ? rules.type : `${rules.type}\n${roles.join('\n')}`;
    let roleSet = this.#roleSets.get(roleKey);
    if (roleSet === undefined) {
      roleSet = this.#buildRoleSet(rules, roles);
      this.#roleSets.set(roleKey, roleSet);
    }
    let selection = roleSet.fixed;
    if (selection === undefined) {
      const values = roleSet.placeholders.map((placeholder) => placeholder.resolve(subject, context));
      // JSON keeps 1 and "1" apart; a missing value is null, which no placeholder resolves to.
      const key = `${roleKey}\u0001${JSON.stringify(values)}`;
      selection = this.#selections.get(key);
      if (selection === undefined) {
        selection = this.#select(roleKey, roleSet, values);
        this.#selections.set(key, selection);
      }
    }
    if (this.#builds === buildsBefore) this.#hits++;
    return selection;
  }

  stats(): AbilityCacheStats {
    let fixed = 0;
    for (const roleSet of this.#roleSets.values())
      for (const group of roleSet.groups) if (group.fixed) fixed++;
    return {
      builds: this.#builds,
      rulesBuilt: this.#rulesBuilt,
      hits: this.#hits,
      size: fixed + this.#abilities.size,
    };
  }

  #select(roleKey: string, roleSet: RoleSet, values: readonly (Scalar | undefined)[]): EngineAbility[] {
    return roleSet.groups.map((group, g) => {
      if (group.fixed) return group.fixed;
      const own = group.uses.map((i) => values[i]);
      const key = `${roleKey}\u0001${g}\u0001${JSON.stringify(own)}`;
      let ability = this.#abilities.get(key);
      if (ability === undefined) {
        const byText = new Map(group.uses.map((i, k) => [roleSet.placeholders[i]!.text, own[k]]));
        ability = this.#build(group.rules, byText);
        this.#abilities.set(key, ability);
      }
      return ability;
    });
  }

  #buildRoleSet(rules: ResourceRules, roles: readonly string[]): RoleSet {
    const all = rules.rulesFor(roles);
    const bySignature = new Map<string, CompiledRule[]>();
    // A small role set is one group: one ability to consult per request, cheap to rebuild.
    if (all.length <= ONE_GROUP_MAX_RULES) bySignature.set('', all);
    else
      for (const rule of all) {
        const signature = rule.placeholders
          .map((p) => p.text)
          .sort()
          .join('\n');
        const group = bySignature.get(signature);
        if (group) group.push(rule);
        else bySignature.set(signature, [rule]);
      }
    const positions = new Map<string, number>();
    const placeholders: Placeholder[] = [];
    const groups = [...bySignature.values()].map((groupRules): RuleGroup => {
      const uses = [...new Set(groupRules.flatMap((rule) => rule.placeholders))].map((placeholder) => {
        let at = positions.get(placeholder.text);
        if (at === undefined) {
          at = placeholders.push(placeholder) - 1;
          positions.set(placeholder.text, at);
        }
        return at;
      });
      const fixed = uses.length === 0 ? this.#build(groupRules, EMPTY_VALUES) : undefined;
      return { rules: groupRules, uses, fixed };
    });
    const allFixed = groups.every((group) => group.fixed);
    return { groups, placeholders, fixed: allFixed ? groups.map((group) => group.fixed!) : undefined };
  }

  #build(rules: readonly CompiledRule[], values: PlaceholderValues): EngineAbility {
    this.#builds++;
    this.#rulesBuilt += rules.length;
    return buildAbility(rules, values);
  }
}

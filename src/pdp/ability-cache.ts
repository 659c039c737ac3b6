import { LRUCache } from 'lru-cache';
import { buildAbility, type EngineAbility } from './abilities.ts';
import type { Scalar } from './attribute-path.ts';
import type { PlaceholderValues } from './instantiate.ts';
import type { CompiledRule } from './model.ts';
import { Placeholder } from './placeholders.ts';
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
  /** Estimated heap the abilities cached per placeholder values retain, never above `maxBytes`. */
  bytes: number;
  maxBytes: number;
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
  /** Estimated heap one ability of the group retains, placeholder values aside. */
  bytes: number;
}

interface RoleSet {
  groups: readonly RuleGroup[];
  /** Every placeholder of every group, each once. */
  placeholders: readonly Placeholder[];
  /** The answer to every lookup when no group has placeholders. */
  fixed: readonly EngineAbility[] | undefined;
}

/** A cached selection, or one group's ability, with the heap it is estimated to retain. */
interface Sized<V> {
  value: V;
  bytes: number;
}

export interface AbilityCacheOptions {
  /** Bound of the ability LRU and of the selection LRU (default 10,000 each). */
  maxAbilities?: number;
  /**
   * Bound, in bytes of estimated retained heap, of the abilities built for placeholder values
   * (default 64 MiB): half for selections, half for abilities shared between them. Role sets
   * (abilities without placeholders) are bounded by count: they grow with the policy, not
   * with what callers send.
   */
  maxBytes?: number;
  /** Bound of the role-set LRU (default 1,000). */
  maxRoleSets?: number;
}

/** Whatever one caller makes the cache build, the heap it retains stays under this (issue 9). */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

function bounded<V>(max: number, maxBytes: number): LRUCache<string, Sized<V>> {
  return new LRUCache<string, Sized<V>>({
    max,
    maxSize: maxBytes,
    // The key is counted in the entry's bytes (see #select and lookup).
    sizeCalculation: (entry) => entry.bytes,
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
  readonly #selections: LRUCache<string, Sized<readonly EngineAbility[]>>;
  readonly #abilities: LRUCache<string, Sized<EngineAbility>>;
  readonly #maxBytes: number;
  #builds = 0;
  #rulesBuilt = 0;
  #hits = 0;

  constructor(options: AbilityCacheOptions = {}) {
    // A selection counts the abilities it holds even when #abilities holds them too: once
    // evicted there, they live on in the selection. So the two bounds add up to the total.
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    const max = options.maxAbilities ?? 10_000;
    this.#maxBytes = maxBytes;
    this.#roleSets = new LRUCache<string, RoleSet>({ max: options.maxRoleSets ?? 1_000 });
    this.#selections = bounded(max, Math.floor(maxBytes / 2));
    this.#abilities = bounded(max, Math.floor(maxBytes / 2));
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
      selection = this.#selections.get(key)?.value;
      if (selection === undefined) {
        const selected = this.#select(roleKey, roleSet, values, key);
        this.#selections.set(key, selected);
        selection = selected.value;
      }
    }
    if (this.#builds === buildsBefore) this.#hits++;
    return selection;
  }

  stats(): AbilityCacheStats {
    let fixed = 0;
    for (const roleSet of this.#roleSets.values())
      for (const group of roleSet.groups) if (group.fixed) fixed++;
    let single = 0;
    for (const selection of this.#selections.values()) if (selection.value.length === 1) single++;
    return {
      builds: this.#builds,
      rulesBuilt: this.#rulesBuilt,
      hits: this.#hits,
      size: fixed + this.#abilities.size + single,
      bytes: this.#selections.calculatedSize + this.#abilities.calculatedSize,
      maxBytes: this.#maxBytes,
    };
  }

  /** The abilities of every group for `values`, and the heap they retain with `selectionKey`. */
  #select(
    roleKey: string,
    roleSet: RoleSet,
    values: readonly (Scalar | undefined)[],
    selectionKey: string,
  ): Sized<readonly EngineAbility[]> {
    const [only] = roleSet.groups;
    if (roleSet.groups.length === 1 && only) {
      // One group (most role sets): its ability is keyed by the very same values, so it lives
      // in the selection alone instead of in both LRUs.
      const ability = this.#build(only.rules, this.#valuesOf(roleSet, only, values));
      return { value: [ability], bytes: retainedBytes(only, selectionKey) };
    }
    let bytes = SELECTION_BYTES + selectionKey.length * 2;
    const abilities = roleSet.groups.map((group, g) => {
      if (group.fixed) return group.fixed;
      const key = `${roleKey}\u0001${g}\u0001${JSON.stringify(group.uses.map((i) => values[i]))}`;
      let entry = this.#abilities.get(key);
      if (entry === undefined) {
        entry = {
          value: this.#build(group.rules, this.#valuesOf(roleSet, group, values)),
          bytes: retainedBytes(group, key),
        };
        this.#abilities.set(key, entry);
      }
      bytes += entry.bytes;
      return entry.value;
    });
    return { value: abilities, bytes };
  }

  #valuesOf(roleSet: RoleSet, group: RuleGroup, values: readonly (Scalar | undefined)[]): PlaceholderValues {
    return new Map(group.uses.map((i) => [roleSet.placeholders[i]!.text, values[i]]));
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
      return { rules: groupRules, uses, fixed, bytes: fixed ? 0 : abilityBytes(groupRules) };
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

// Retained heap of the engine's CASL abilities, measured with `--expose-gc` (heapUsed after
// gc(), divided by the abilities built; every action asked, so every condition is compiled):
// ~3 KB an ability, ~1.5 KB a rule with a few conditions, ~8 B an array item of a condition,
// and each placeholder value held about once per rule plus twice in keys. The figures below
// round those up; test/security/hygiene.test.ts checks the heap against the bound (issue 9).
const ABILITY_BYTES = 3_000;
const RULE_BYTES = 1_600;
const CONDITION_NODE_BYTES = 16;
const ACTION_BYTES = 64;
const SELECTION_BYTES = 200;

/** Estimated heap an ability of `rules` retains, placeholder values aside. */
function abilityBytes(rules: readonly CompiledRule[]): number {
  let bytes = ABILITY_BYTES;
  for (const rule of rules)
    bytes +=
      RULE_BYTES +
      CONDITION_NODE_BYTES * conditionNodes(rule.when) +
      ACTION_BYTES * (rule.actions.length + (rule.fields?.length ?? 0));
  return bytes;
}

/**
 * Estimated heap one cached ability of `group` retains under `key`. The key holds every
 * placeholder value as JSON, so its length bounds them: held in the key, the values map and
 * per rule, two bytes a character (strings outside Latin-1 take two).
 */
function retainedBytes(group: RuleGroup, key: string): number {
  return group.bytes + key.length * 2 * (group.rules.length + 2);
}

/** Keys, values and array items of a rule's conditions: what instantiating copies per ability. */
function conditionNodes(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + conditionNodes(item), 1);
  if (value !== null && typeof value === 'object' && !(value instanceof Placeholder)) {
    let nodes = 1;
    for (const item of Object.values(value)) nodes += 1 + conditionNodes(item);
    return nodes;
  }
  return 1;
}

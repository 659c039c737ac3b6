import { ANY, type CompiledResource, type CompiledRule } from './model.ts';

/**
 * The rules of one resource type, indexed by role once per policy version, so a request only
 * ever looks at the rules of the roles its subject holds (plus the `*` rules) — never scans the
 * rules of other roles, however many there are.
 */
export class ResourceRules {
  readonly type: string;
  /** The `policy` member of every decision on this type (shared, hence frozen). */
  readonly policy: Readonly<{ resource: string; version: number }>;
  /** Every rule of the type, in declared order (explain.ts lists those no role selects). */
  readonly all: readonly CompiledRule[];
  readonly #byRole = new Map<string, CompiledRule[]>();
  readonly #anyRole: CompiledRule[] = [];

  constructor(resource: CompiledResource, version: number) {
    this.type = resource.type;
    this.policy = Object.freeze({ resource: resource.type, version });
    this.all = resource.rules;
    for (const rule of resource.rules) {
      if (rule.roles.includes(ANY)) {
        this.#anyRole.push(rule);
        continue;
      }
      for (const role of rule.roles) {
        const list = this.#byRole.get(role);
        if (list) list.push(rule);
        else this.#byRole.set(role, [rule]);
      }
    }
  }

  /**
   * The subject's roles that some rule of this type names, unique and sorted. Other roles cannot
   * change a decision, so leaving them out keeps cache keys few. A subject claiming the role
   * "*" gains nothing: "*" is not a key of the index.
   */
  relevantRoles(roles: readonly unknown[]): string[] {
    const relevant: string[] = [];
    if (!Array.isArray(roles)) return relevant;
    for (const role of roles)
      if (typeof role === 'string' && this.#byRole.has(role) && !relevant.includes(role)) relevant.push(role);
    return relevant.length > 1 ? relevant.sort() : relevant;
  }

  /** Rules that apply to a subject holding exactly `roles` (from relevantRoles), in declared order. */
  rulesFor(roles: readonly string[]): CompiledRule[] {
    if (roles.length === 0) return [...this.#anyRole];
    const rules = new Set(this.#anyRole);
    for (const role of roles) for (const rule of this.#byRole.get(role) ?? []) rules.add(rule);
    return [...rules].sort((a, b) => a.order - b.order);
  }
}

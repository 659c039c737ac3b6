import { type EngineRule, sourceOf } from './abilities.ts';
import { AbilityCache, type AbilityCacheOptions, type AbilityCacheStats } from './ability-cache.ts';
import { UnknownResourceTypeError } from './errors.ts';
import { explainDecision } from './explain.ts';
import type { CompiledResource } from './model.ts';
import { planFor } from './plan.ts';
import { ResourceRules } from './resource-rules.ts';
import { ResourceView } from './resource-view.ts';
import type { Decision, DecisionRequest, Explanation, PolicyRoute, QueryPlan, Subject } from './types.ts';

export type PolicySetOptions = AbilityCacheOptions;

/**
 * One validated, immutable version of the policy set: compiled once, then asked on every
 * request. Safe to share between concurrent requests; a new version is a new object, so a
 * request that started on one version finishes on it.
 */
export class CompiledPolicySet {
  readonly version: number;
  readonly #resources = new Map<string, ResourceRules>();
  readonly #routes: readonly PolicyRoute[];
  readonly #ruleCount: number;
  readonly #cache: AbilityCache;
  /** @internal The validated resources it was built from (hashed-replay.ts rebuilds from them). */
  readonly compiled: readonly CompiledResource[];

  /** @internal Use `compilePolicySet`, which validates first. */
  constructor(resources: readonly CompiledResource[], version: number, options: PolicySetOptions = {}) {
    this.version = version;
    this.compiled = resources;
    for (const resource of resources)
      this.#resources.set(resource.type, new ResourceRules(resource, version));
    this.#routes = Object.freeze(resources.flatMap((resource) => resource.routes));
    this.#ruleCount = resources.reduce((sum, resource) => sum + resource.rules.length, 0);
    this.#cache = new AbilityCache(options);
  }

  /** Resource types the set has policies for, sorted. */
  resources(): string[] {
    return [...this.#resources.keys()].sort();
  }

  hasResource(type: string): boolean {
    return this.#resources.has(type);
  }

  /**
   * Decides one request: a matching deny wins over any allow, no matching rule denies
   * (`no_matching_rule`). With `field`, field-restricted rules count for that field; without
   * one, an allow restricted to fields still allows (the subject may see part of the resource)
   * and a deny restricted to fields does not apply — CASL's semantics.
   *
   * @throws UnknownResourceTypeError (an invalid_request TollgateError, HTTP 400) when the set
   *   has no policy for `request.resource.type`.
   */
  decide(request: DecisionRequest): Decision {
    const rules = this.#rulesOf(request.resource.type, 'resource.type');
    const abilities = this.#cache.lookup(rules, request.subject, request.context);
    const view = new ResourceView(request.resource);
    const field = typeof request.field === 'string' ? request.field : undefined;
    let deciding: EngineRule | null = null;
    for (const ability of abilities) {
      const rule = ability.relevantRuleFor(request.action, view, field);
      if (rule !== null) deciding = deciding === null ? rule : firstOf(deciding, rule);
    }
    if (deciding === null)
      return { allow: false, reason: 'no_matching_rule', rule: null, policy: rules.policy };
    const rule = sourceOf(deciding);
    const allow = !deciding.inverted;
    return {
      allow,
      reason: rule.reason ?? (allow ? 'allowed' : 'denied'),
      rule: rule.id,
      policy: rules.policy,
    };
  }

  /**
   * How `decide(request)` reaches its answer, rule by rule (explain.ts). Slower than `decide`
   * and never used by it; callers ask for both.
   *
   * @throws UnknownResourceTypeError as `decide` does.
   */
  explain(request: DecisionRequest): Explanation {
    return explainDecision(this.#rulesOf(request.resource.type, 'resource.type'), request);
  }

  /**
   * Which resources of `resourceType` the subject may `action`, as a condition tree over
   * resource attributes (see planToKysely), or always/never.
   *
   * @throws UnknownResourceTypeError for a type the set has no policy for.
   */
  plan(subject: Subject, action: string, resourceType: string, context?: Record<string, unknown>): QueryPlan {
    const rules = this.#rulesOf(resourceType, 'resourceType');
    return planFor(this.#cache.lookup(rules, subject, context), action);
  }

  /** Every gateway route of every policy. */
  routes(): PolicyRoute[] {
    return [...this.#routes];
  }

  ruleCount(): number {
    return this.#ruleCount;
  }

  /** How the ability cache is doing (builds vs reuses); for tests and metrics. */
  cacheStats(): AbilityCacheStats {
    return this.#cache.stats();
  }

  #rulesOf(type: string, field: string): ResourceRules {
    const rules = typeof type === 'string' ? this.#resources.get(type) : undefined;
    if (rules === undefined) throw new UnknownResourceTypeError(String(type), field);
    return rules;
  }
}

/** Of the rules two abilities chose: any deny over any allow, then the first declared. */
function firstOf(a: EngineRule, b: EngineRule): EngineRule {
  if (a.inverted !== b.inverted) return a.inverted ? a : b;
  return sourceOf(a).order <= sourceOf(b).order ? a : b;
}

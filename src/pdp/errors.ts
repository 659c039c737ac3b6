import { TollgateError } from '../common/index.ts';

/**
 * A decision or plan asked about a resource type the policy set does not know. It is the
 * caller's mistake, so it is an `invalid_request` (HTTP 400) naming the field, not a denial:
 * a typo in a gateway's configuration should be loud, not a silent deny.
 */
export class UnknownResourceTypeError extends TollgateError {
  readonly resourceType: string;

  constructor(resourceType: string, field = 'resource.type') {
    // JSON.stringify quotes and escapes: the type comes from the request.
    super('invalid_request', `${field}: unknown resource type ${JSON.stringify(resourceType.slice(0, 100))}`);
    this.name = 'UnknownResourceTypeError';
    this.resourceType = resourceType;
  }
}

// Plans are turned into SQL by the service-side client; the class lives there, once.
export { PlanTranslationError } from '../client/index.ts';

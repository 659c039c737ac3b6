import { bodyParser } from '@koa/bodyparser';
import { TollgateError } from '../common/index.ts';

/** Parses JSON or form bodies with a byte limit; parser failures become OAuth-shaped errors. */
export function parseBody(types: ('json' | 'form')[], limit = '64kb') {
  return bodyParser({
    enableTypes: types,
    jsonLimit: limit,
    formLimit: limit,
    jsonStrict: true,
    onError(error) {
      const status = (error as { status?: number }).status;
      if (status === 413) throw new TollgateError('request_too_large', `request body exceeds ${limit}`);
      if (status === 415) throw new TollgateError('unsupported_media_type', 'unsupported content type');
      throw new TollgateError('invalid_request', 'request body is not valid JSON or form data');
    },
  });
}

// The package ships no types; these are the two functions it exports.
declare module 'ecdsa-sig-formatter' {
  /** A DER ECDSA signature as the JWS encoding (RFC 7518 §3.4: r||s), base64url. */
  export function derToJose(signature: Buffer | string, alg: string): string;
  /** A JWS ECDSA signature (base64url or bytes) as DER. */
  export function joseToDer(signature: Buffer | string, alg: string): Buffer;
}

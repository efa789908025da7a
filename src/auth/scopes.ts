// The scopes Serval's routes require; a token carries them in its "scope" (or "scp") claim.
export const Scopes = {
  /** Inference routes. */
  predict: 'serval:predict',
  /** Model metadata routes. */
  read: 'serval:read',
  /** Implies every other scope (model management). */
  admin: 'serval:admin',
} as const;

export type Scope = (typeof Scopes)[keyof typeof Scopes];

export const ALL_SCOPES: readonly Scope[] = Object.values(Scopes);

/** Scopes from a token's "scope" (space-separated string, RFC 8693) or "scp" (array or string) claim. */
export function scopesOf(claims: Readonly<Record<string, unknown>>): Set<string> {
  const raw = claims.scope ?? claims.scp;
  if (typeof raw === 'string') return new Set(raw.split(' ').filter(Boolean));
  if (Array.isArray(raw)) return new Set(raw.filter((s): s is string => typeof s === 'string'));
  return new Set();
}

export function grants(scopes: ReadonlySet<string>, required: Scope): boolean {
  return scopes.has(required) || scopes.has(Scopes.admin);
}

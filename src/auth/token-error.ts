// Why a bearer token was refused: a short, safe reason (never the token), for WWW-Authenticate.
export class TokenError extends Error {
  override name = 'TokenError';
}

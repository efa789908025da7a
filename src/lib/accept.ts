// Content negotiation for GET /: does an Accept header prefer an HTML page (a browser) to JSON (an API client)?

interface Range {
  type: string;
  q: number;
}

function ranges(accept: string): Range[] {
  return accept.split(',').flatMap((part) => {
    const [type = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    return type === '' || !Number.isFinite(quality) ? [] : [{ type, q: quality }];
  });
}

/** The quality the most specific matching range gives a media type (RFC 9110 section 12.5.1); 0 when none does. */
function quality(list: readonly Range[], media: string): number {
  const [type] = media.split('/');
  for (const candidate of [media, `${type}/*`, '*/*']) {
    const found = list.find((r) => r.type === candidate);
    if (found) return found.q;
  }
  return 0;
}

/** True when text/html gets a higher quality than application/json: a tie, or no header, stays JSON. */
export function prefersHtml(accept: string | undefined): boolean {
  if (accept === undefined || accept === '') return false;
  const list = ranges(accept);
  return quality(list, 'text/html') > quality(list, 'application/json');
}

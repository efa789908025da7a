// Pasted CSV rows as instances: comma, semicolon or tab separated, quotes as RFC 4180 has them, and an optional
// first line of feature names that sets the columns' order.
import { parseValue, type Field } from './plan.js';
import type { Value } from './request.js';

export interface Rows {
  columns: string[];
  rows: Value[][];
}

/** One line's cells; a quoted cell may hold the separator and doubled quotes. */
export function cells(line: string, separator: string): string[] {
  const out: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line.charAt(i);
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"' && cell.trim() === '') {
      quoted = true;
      cell = '';
    } else if (c === separator) {
      out.push(cell.trim());
      cell = '';
    } else cell += c;
  }
  out.push(quoted ? cell : cell.trim());
  return out;
}

function separatorOf(line: string): string {
  if (line.includes('\t')) return '\t';
  if (line.includes(';') && !line.includes(',')) return ';';
  return ',';
}

/** The rows of a paste; throws a message for people when there is none. */
export function parseCsv(text: string, fields: readonly Field[]): Rows {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const [first] = lines;
  if (first === undefined) throw new Error('paste at least one row of values');
  const separator = separatorOf(first);
  const keys = fields.map((f) => f.key);
  const head = cells(first, separator);
  const header = head.every((c) => keys.includes(c));
  const columns = header ? head : keys;
  const body = header ? lines.slice(1) : lines;
  if (body.length === 0) throw new Error('the paste has feature names but no rows of values');
  const datatypes = columns.map((c) => fields.find((f) => f.key === c)?.datatype ?? 'FP32');
  const rows = body.map((line) =>
    cells(line, separator).map((cell, i) => parseValue(cell, datatypes[i] ?? 'FP32')),
  );
  return { columns, rows };
}

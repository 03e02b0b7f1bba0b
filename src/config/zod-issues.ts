import type { z } from 'zod';
import { EdgeError, type SourcePos } from '../errors.js';
import { formatFieldPath } from './field-path.js';
import { didYouMean } from './suggest.js';
import { positionOf, type YamlPath } from './yaml-position.js';
import type { YamlSource } from './yaml-source.js';

/** Where an issue is reported: file position, dotted field, and optionally the host it concerns. */
export interface IssuePlace {
  pos: SourcePos;
  field: string;
  host?: string;
  hint?: string;
}

/** Maps a zod issue path (relative to the parsed value) to a place in a file. */
export type Locate = (path: PropertyKey[], at: 'value' | 'key') => IssuePlace;

export interface IssueOptions {
  /** The value that was parsed, to say what was given ("got ..."). */
  data: unknown;
  locate: Locate;
  /** Keys allowed at a path, for "did you mean" on unknown keys. */
  knownKeys?: (path: PropertyKey[]) => readonly string[] | undefined;
}

/** Issues located in one YAML file, below `base` (the path of the parsed value in the document). */
export function placeIn(source: YamlSource, base: YamlPath = []): Locate {
  return (path, at) => {
    const full = [...base, ...path];
    return { pos: positionOf(source, full, at), field: formatFieldPath(full) };
  };
}

const TYPE_NAMES: Record<string, string> = {
  number: 'a number',
  int: 'a whole number',
  string: 'a string',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
  null: 'nothing',
};

function typeName(t: string): string {
  return TYPE_NAMES[t] ?? t;
}

/** "got ..." text for a value; undefined for lists and mappings, which would say nothing useful. */
export function describeValue(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (v === null) return 'an empty value';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return undefined;
}

function bound(origin: string, op: string, n: number | bigint): string {
  if (origin === 'array' || origin === 'set') return `${op === '>=' ? 'at least' : 'at most'} ${n} item${n === 1 ? '' : 's'}`;
  if (origin === 'string') {
    if (op === '>=' && Number(n) === 1) return 'a non-empty string';
    return `${op === '>=' ? 'at least' : 'at most'} ${n} character${n === 1 ? '' : 's'}`;
  }
  return `a number ${op} ${n}`;
}

/**
 * Messages for issues whose schema did not bring its own (schema-level messages win in zod).
 * Passed as the per-parse error map, see PARSE_PARAMS.
 */
export const issueMessage: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return `is required (expected ${typeName(iss.expected)})`;
      return `expected ${typeName(iss.expected)}`;
    case 'too_small':
      return `expected ${bound(iss.origin, iss.inclusive === false ? '>' : '>=', iss.minimum)}`;
    case 'too_big':
      return `expected ${bound(iss.origin, iss.inclusive === false ? '<' : '<=', iss.maximum)}`;
    case 'invalid_value':
      return iss.values.length === 1
        ? `expected ${JSON.stringify(iss.values[0])}`
        : `expected one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format':
      return iss.format === 'regex' && 'pattern' in iss ? `expected text matching ${String(iss.pattern)}` : `expected ${iss.format}`;
    case 'not_multiple_of':
      return `expected a multiple of ${iss.divisor}`;
    case 'unrecognized_keys':
      return `unknown key${iss.keys.length === 1 ? '' : 's'} ${iss.keys.join(', ')}`;
    default:
      return undefined;
  }
};

/** Parse options for every config parse: our messages, and the input kept for "got ...". */
export const PARSE_PARAMS = { reportInput: true, error: issueMessage } as const;

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

/** zod's message for a union no branch of which matched, when the schema gave none. */
const ZOD_UNION_DEFAULT = 'Invalid input';

/** Adds ", got X". Lists and mappings are only named when the type was the problem. */
function withGot(message: string, value: unknown, typeProblem: boolean): string {
  const got = typeof value === 'object' && value !== null && !typeProblem ? undefined : describeValue(value);
  // a message that already quotes the text it was given (unknown time zone "X") need not repeat it
  const quoted = typeof value === 'string' && got !== undefined && message.includes(got);
  const said = got === undefined || quoted || / got /.test(message) || message.startsWith('is required');
  return said ? message : `${message}, got ${got}`;
}

type Issue = z.core.$ZodIssue;

/** Converts zod issues into CONFIG errors at file:line:col, one per problem (all are reported). */
export function issuesToErrors(issues: readonly Issue[], opts: IssueOptions): EdgeError[] {
  const out: EdgeError[] = [];
  const error = (place: IssuePlace, message: string, hint?: string) =>
    out.push(
      new EdgeError('CONFIG', message, {
        pos: place.pos,
        field: place.field,
        host: place.host,
        hint: place.hint ?? hint,
      }),
    );

  const visit = (issue: Issue, prefix: PropertyKey[]) => {
    const path = [...prefix, ...issue.path];
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = opts.knownKeys?.(path);
        for (const key of issue.keys) {
          const hint = known ? `allowed here: ${known.join(', ')}` : undefined;
          error(opts.locate([...path, key], 'key'), `unknown key ${key}${known ? didYouMean(key, known) : ''}`, hint);
        }
        return;
      }
      case 'invalid_union': {
        // A branch whose type matched says what is wrong with the value: the one whose format it
        // also took, if any (an IPv6 prefix with host bits is told that, not that it is no IPv4
        // prefix); when several took its type and none its format, the union's own message says
        // what it takes.
        const own = issue.message !== ZOD_UNION_DEFAULT ? issue.message : undefined;
        const typedBranches = issue.errors.filter((b) => b.length > 0 && !b.some((i) => i.code === 'invalid_type' && i.path.length === 0));
        const formatted = typedBranches.find((b) => !b.some((i) => i.code === 'invalid_format' && i.path.length === 0));
        const typed = formatted ?? (own && typedBranches.length > 1 ? undefined : typedBranches[0]);
        if (typed) {
          for (const i of typed) visit(i, path);
          return;
        }
        // No branch took the value: the union's own message if it has one, else the types it takes.
        const expected = [
          ...new Set(issue.errors.flatMap((b) => b.filter((i) => i.code === 'invalid_type').map((i) => typeName(i.expected)))),
        ];
        const message = own ?? (expected.length > 0 ? `expected ${expected.join(' or ')}` : issue.message);
        const value = valueAt(opts.data, path);
        if (value === undefined) error(opts.locate(path, 'value'), `is required (${message})`);
        else error(opts.locate(path, 'value'), withGot(message, value, true));
        return;
      }
      case 'invalid_key': {
        const inner = issue.issues[0];
        const key = path[path.length - 1];
        error(opts.locate(path, 'key'), withGot(`invalid key: ${inner?.message ?? issue.message}`, key, false));
        return;
      }
      default:
        error(opts.locate(path, 'value'), withGot(issue.message, valueAt(opts.data, path), issue.code === 'invalid_type'));
    }
  };
  for (const issue of issues) visit(issue, []);
  return out;
}

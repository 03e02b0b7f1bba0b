import { FILE_CAPS, readBoundedText } from './read-file.js';
import { Composer, isScalar, LineCounter, Parser, visit, YAMLParseError, type Document, type Tags } from 'yaml';
import { MAX_YAML_ALIAS_COUNT, MAX_YAML_DEPTH, tooDeepFlow, tooDeepTokens } from './yaml-limits.js';
import { EdgeError, EdgeErrors, errorMessage, type SourcePos } from '../errors.js';

/** A parsed YAML file: the document (for positions), its plain data, and the file name errors name. */
export interface YamlSource {
  /** The path as the user gave it, used verbatim in error messages. */
  file: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
  /** The document as plain JS (maps → objects, seqs → arrays); null for an empty file. */
  data: unknown;
}

// PyYAML (Ansible's parser) reads YAML 1.1 booleans, but only these spellings; yaml's 1.1 schema
// also takes y/n, which would turn a host or key named "y" into `true`.
const PYYAML_TRUE = /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
const PYYAML_FALSE = /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/;
// PyYAML's resolver: a float needs a dot (and a signed exponent); a decimal int has no leading 0.
const PYYAML_FLOAT_EXP = /^(?:[-+]?[0-9][0-9_]*\.[0-9_]*[eE][-+][0-9]+|\.[0-9][0-9_]*[eE][-+][0-9]+)$/;
const PYYAML_FLOAT = /^(?:[-+]?[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)$/;
const PYYAML_DECIMAL = /^[-+]?(?:0|[1-9][0-9_]*)$/;

/**
 * YAML 1.1 like Ansible (yes/no booleans, 0644 octal, << merge keys), minus two traps:
 * sexagesimal numbers (`start: 22:00` would become 79200) and implicit timestamps.
 */
function ansibleTags(tags: Tags): Tags {
  return tags
    .filter((t) => !(typeof t === 'object' && (t.format === 'TIME' || t.tag.endsWith(':timestamp'))))
    .map((t) => {
      if (typeof t !== 'object' || !t.test) return t;
      if (t.tag.endsWith(':bool')) return { ...t, test: t.test.test('true') ? PYYAML_TRUE : PYYAML_FALSE };
      // yaml's 1.1 numbers are looser than PyYAML's: `e1` and `.` became NaN, `1e3` and `09` numbers.
      if (t.tag.endsWith(':float') && t.format === 'EXP') return { ...t, test: PYYAML_FLOAT_EXP };
      if (t.tag.endsWith(':float') && t.test.test('1.5')) return { ...t, test: PYYAML_FLOAT };
      if (t.tag.endsWith(':int') && t.test.test('10') && !t.test.test('0x1')) return { ...t, test: PYYAML_DECIMAL };
      return t;
    });
}

/** Ansible's own tags: `!unsafe` (no templating: edge templates nothing, so plain text) and `!vault`. */
const ANSIBLE_TAGS: Tags = [
  { tag: '!unsafe', identify: () => false, resolve: (s: string) => s },
  {
    tag: '!vault',
    identify: () => false,
    resolve: (s: string, onError: (message: string) => void) => {
      onError('!vault: Ansible Vault values are not supported by edge (it cannot decrypt them); put the value in plain text or leave it to Ansible');
      return s;
    },
  },
];

const TAG_HINT = "edge knows the standard YAML tags (!!str, !!int, ...) and Ansible's !unsafe";

const OPTIONS = {
  version: '1.1',
  customTags: (tags: Tags) => [...ansibleTags(tags), ...ANSIBLE_TAGS],
  prettyErrors: false,
  // yaml compares each key with every earlier one of its map: quadratic, 9 s for an inventory of
  // 10,000 hosts. duplicateKeys finds the same ones with a set.
  uniqueKeys: false,
} as const;

/** yaml's own DUPLICATE_KEY errors (uniqueKeys: true): a scalar key whose value an earlier key of its map has. */
function duplicateKeys(doc: Document.Parsed): YAMLParseError[] {
  const found: YAMLParseError[] = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const { key } of map.items) {
        if (!isScalar(key)) continue;
        if (seen.has(key.value)) {
          const at = key.range?.[0] ?? 0;
          found.push(new YAMLParseError([at, at + 1], 'DUPLICATE_KEY', 'Map keys must be unique'));
        }
        seen.add(key.value);
      }
    },
  });
  return found;
}

function configError(source: Pick<YamlSource, 'file' | 'lineCounter'>, offset: number, message: string, hint?: string): EdgeError {
  const { line, col } = source.lineCounter.linePos(offset);
  return new EdgeError('CONFIG', message, { pos: { file: source.file, line, col }, hint });
}

function tooDeepError(source: Pick<YamlSource, 'file' | 'lineCounter'>, offset: number): EdgeError {
  return configError(
    source,
    offset,
    `YAML nesting deeper than ${MAX_YAML_DEPTH} levels: refused`,
    'an inventory or playbook needs a few levels; this looks generated or corrupted',
  );
}

/** The one document of `text`, within the nesting limit; CST parsing and composing as yaml's parseDocument does. */
function composeDocument(text: string, source: Pick<YamlSource, 'file' | 'lineCounter'>): Document.Parsed {
  const flow = tooDeepFlow(text);
  if (flow) {
    // The CST parser (which fills the line counter) is not run on such a file: count lines here.
    source.lineCounter.addNewLine(0);
    for (let i = text.indexOf('\n'); i !== -1 && i < flow.offset; i = text.indexOf('\n', i + 1)) source.lineCounter.addNewLine(i + 1);
    throw tooDeepError(source, flow.offset);
  }
  const tokens = [...new Parser(source.lineCounter.addNewLine).parse(text)];
  const deep = tooDeepTokens(tokens);
  if (deep) throw tooDeepError(source, deep.offset);
  const docs = [...new Composer(OPTIONS).compose(tokens, true, text.length)];
  const doc = docs[0]!;
  doc.errors.push(...duplicateKeys(doc));
  doc.errors.sort((a, b) => a.pos[0] - b.pos[0]);
  if (docs.length > 1) {
    throw configError(source, docs[1]!.range[0], 'more than one YAML document (---) in the file', 'an inventory or playbook is one document');
  }
  return doc;
}

/**
 * Parses YAML text; syntax errors (all of them), unknown tags and the limits (nesting, aliases)
 * become CONFIG errors at file:line:col.
 */
export function parseYaml(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  const where = { file, lineCounter };
  const doc = composeDocument(text, where);
  // An unknown tag (`!evil`, `!!python/object`) is a warning to yaml, which then reads the value
  // as if untagged; to edge it is an error: the author meant something edge would silently drop.
  const tagWarnings = doc.warnings.filter((w) => w.code === 'TAG_RESOLVE_FAILED');
  // A tab in the indentation derails the parser for the rest of its block: every error after it
  // is a consequence. The tabs alone are the mistake to report.
  const tabs = doc.errors.filter((e) => e.code === 'TAB_AS_INDENT');
  const problems = tabs.length > 0 ? tabs : [...doc.errors, ...tagWarnings];
  if (problems.length > 0) {
    throw new EdgeErrors(
      problems.map((e) =>
        e.code === 'TAG_RESOLVE_FAILED'
          ? configError(where, e.pos[0], `YAML tag error: ${e.message}`, e.message.startsWith('Unresolved') ? TAG_HINT : undefined)
          : configError(where, e.pos[0], `YAML syntax error: ${e.message}`, e.code === 'TAB_AS_INDENT' ? 'YAML indents with spaces only: replace the tab' : undefined),
      ),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT });
  } catch (e) {
    throw aliasError(doc, where, e);
  }
  return { file, doc, lineCounter, data: data ?? null };
}

/** toJS failed: an alias bomb, or an alias to an anchor that is not defined (before it). Points at the first alias. */
function aliasError(doc: Document.Parsed, where: Pick<YamlSource, 'file' | 'lineCounter'>, e: unknown): EdgeError {
  let offset = 0;
  visit(doc, {
    Alias(_, node) {
      offset = node.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  const message = errorMessage(e);
  if (/excessive alias count/i.test(message)) {
    return configError(
      where,
      offset,
      `YAML aliases expand to more than ${MAX_YAML_ALIAS_COUNT} nodes (an "alias bomb"): refused`,
      'anchors (&name) and aliases (*name) may share a block of variables, not multiply it',
    );
  }
  return configError(where, offset, `YAML error: ${message}`);
}

/**
 * Reads and parses a YAML file; a missing or unreadable file, or one that is not a regular file
 * under the size cap, is a CONFIG error naming it (`what` it is: inventory, playbook, ...).
 * `readFrom` is where to read when `file` (the name errors show) is relative to another directory.
 */
export function readYamlFile(file: string, readFrom: string = file, what = 'file'): YamlSource {
  return parseYaml(readBoundedText(file, { what, maxBytes: FILE_CAPS.config, readFrom }), file);
}

/** 1-based line and column of a character offset. */
export function offsetPos(source: YamlSource, offset: number): SourcePos {
  const { line, col } = source.lineCounter.linePos(offset);
  return { file: source.file, line, col };
}

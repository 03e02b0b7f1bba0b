import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, type Document, type Tags } from 'yaml';
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

/** Parses YAML text; syntax errors (all of them) become CONFIG errors at file:line:col. */
export function parseYaml(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    version: '1.1',
    customTags: ansibleTags,
    prettyErrors: false,
    uniqueKeys: true,
  });
  if (doc.errors.length > 0) {
    throw new EdgeErrors(
      doc.errors.map((e) => {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        return new EdgeError('CONFIG', `YAML syntax error: ${e.message}`, { pos: { file, line, col } });
      }),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    // e.g. an alias bomb or an alias to an undefined anchor
    throw new EdgeError('CONFIG', `YAML error: ${errorMessage(e)}`, { pos: { file, line: 1, col: 1 } });
  }
  return { file, doc, lineCounter, data: data ?? null };
}

/**
 * Reads and parses a YAML file; a missing or unreadable file is a CONFIG error naming it.
 * `readFrom` is where to read when `file` (the name errors show) is relative to another directory.
 */
export function readYamlFile(file: string, readFrom: string = file): YamlSource {
  let text: string;
  try {
    text = readFileSync(readFrom, 'utf8');
  } catch (e) {
    throw new EdgeError('CONFIG', `cannot read ${file}: ${errorMessage(e)}`, { cause: e });
  }
  return parseYaml(text, file);
}

/** 1-based line and column of a character offset. */
export function offsetPos(source: YamlSource, offset: number): SourcePos {
  const { line, col } = source.lineCounter.linePos(offset);
  return { file: source.file, line, col };
}

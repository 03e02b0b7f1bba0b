import { Lexer, type CST } from 'yaml';

/**
 * Limits on what a YAML file may ask of the parser, checked before the (recursive) composer sees
 * it: nesting beyond MAX_YAML_DEPTH would overflow the stack ("Maximum call stack size exceeded")
 * and, for flow collections, make the CST parser crawl for minutes on a file of brackets.
 * A real inventory nests a few levels per group; 100 is far beyond any of them.
 */
export const MAX_YAML_DEPTH = 100;

/**
 * What toJS may expand through aliases (yaml's count of alias resolutions weighted by size): an
 * inventory shares a vars block with a few anchors; an alias bomb asks for millions.
 */
export const MAX_YAML_ALIAS_COUNT = 1000;

export interface TooDeep {
  offset: number;
  depth: number;
}

// The lexer's own markers (document, flow-error end, "a scalar follows"): not part of the source.
const MARKERS = new Set(['\x02', '\x18', '\x1f']);

/**
 * Flow nesting (`[[[[...`), from the lexer's flat token stream: stops at the first bracket past
 * the limit, so a file of brackets costs next to nothing.
 */
export function tooDeepFlow(text: string, max = MAX_YAML_DEPTH): TooDeep | undefined {
  let depth = 0;
  let offset = 0;
  for (const tok of new Lexer().lex(text)) {
    if (tok === '[' || tok === '{') {
      if (++depth > max) return { offset, depth };
    } else if ((tok === ']' || tok === '}') && depth > 0) depth--;
    if (!MARKERS.has(tok)) offset += tok.length;
  }
  return undefined;
}

type Node = CST.Token | null | undefined;

function children(t: CST.Token): Node[] {
  switch (t.type) {
    case 'document':
      return [t.value];
    case 'block-map':
    case 'block-seq':
    case 'flow-collection':
      return t.items.flatMap((i) => [i.key, i.value]);
    default:
      return [];
  }
}

function isCollection(t: CST.Token): boolean {
  return t.type === 'block-map' || t.type === 'block-seq' || t.type === 'flow-collection';
}

/** Nesting of collections in parsed CST documents, walked without recursion. */
export function tooDeepTokens(tokens: readonly CST.Token[], max = MAX_YAML_DEPTH): TooDeep | undefined {
  const stack: Array<[CST.Token, number]> = tokens.map((t) => [t, 0]);
  while (stack.length > 0) {
    const [t, d] = stack.pop()!;
    const depth = isCollection(t) ? d + 1 : d;
    if (depth > max) return { offset: t.offset, depth };
    for (const c of children(t)) if (c) stack.push([c, depth]);
  }
  return undefined;
}

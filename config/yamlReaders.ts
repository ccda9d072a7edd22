import { CORE_SCHEMA, load, YAMLException, type LoadOptions } from 'js-yaml';
import {
  Composer,
  isMap,
  isScalar,
  Lexer,
  LineCounter,
  Parser,
  visit,
  YAMLParseError,
  type CST,
  type Document,
} from 'yaml';
import { LIMIT_MESSAGES, MAX_DEPTH, MAX_NODES } from './limits';

/** A reader's error at a 1-based line and column. */
export interface YamlError {
  line: number;
  column: number;
  message: string;
  /** One of our bounds (limits.ts) rather than a syntax error. */
  bound: boolean;
}

/**
 * js-yaml: fast and frugal (an alias is its anchor's object, not a copy), but positions are lost.
 * A listener counts what it reads, so a file with too many keys and values, or nested too deep, is
 * refused where the bound is crossed, before anything else walks the data.
 */
export function readYaml(text: string): { data: unknown } | { error: YamlError } {
  let nodes = 0;
  let depth = 0;
  const listener: LoadOptions['listener'] = (event, state) => {
    if (event === 'close') {
      depth--;
      return;
    }
    depth++;
    const message =
      depth > MAX_DEPTH ? LIMIT_MESSAGES.depth : ++nodes > MAX_NODES ? LIMIT_MESSAGES.nodes : undefined;
    if (message !== undefined) {
      throw new BoundCrossed({
        line: state.line + 1,
        column: state.position - state.lineStart + 1,
        message,
        bound: true,
      });
    }
  };
  try {
    // The core schema is YAML 1.2's, as yaml reads it: '08:00' and '2025-02-01' stay strings.
    return { data: load(text, { schema: CORE_SCHEMA, listener }) };
  } catch (error) {
    if (error instanceof BoundCrossed) return { error: error.at };
    if (error instanceof YAMLException) {
      // A second document is refused with no mark: its place is for yaml to say.
      const { line, column } = (error.mark as YAMLException['mark'] | undefined) ?? { line: 0, column: 0 };
      return { error: { line: line + 1, column: column + 1, message: error.reason, bound: false } };
    }
    throw error;
  }
}

class BoundCrossed extends Error {
  constructor(readonly at: YamlError) {
    super(at.message);
  }
}

export interface LocatableDocument {
  doc: Document.Parsed;
  lines: LineCounter;
}

/**
 * yaml keeps every node's position, which locating errors needs, at about 1 KB per node: callers
 * bound its input first. This is its parseDocument with nesting bounded, since its parser and
 * composer recurse once per level and overflow the stack near 2,000 levels with a RangeError that
 * says nowhere.
 */
export function parseLocatable(text: string): LocatableDocument | YamlError {
  const lines = new LineCounter();
  const parser = new Parser(lines.addNewLine);
  lines.addNewLine(0); // as Parser.parse() does
  const tokens: CST.Token[] = [];
  for (const lexeme of new Lexer().lex(text)) {
    tokens.push(...parser.next(lexeme));
    // The stack holds the document, then one token per level, the scalar being read included.
    if (parser.stack.length > MAX_DEPTH + 1) {
      const { line, col } = lines.linePos(parser.offset);
      return { line, column: col, message: LIMIT_MESSAGES.depth, bound: true };
    }
  }
  tokens.push(...parser.end());
  // yaml's own duplicate-key check compares each key with every other: 100,000 keys take minutes.
  const [doc, second] = new Composer({ uniqueKeys: false }).compose(tokens, true, text.length);
  doc.errors.push(...duplicateKeys(doc));
  if (second) {
    doc.errors.push(
      new YAMLParseError(
        second.range.slice(0, 2) as [number, number],
        'MULTIPLE_DOCS',
        'a configuration is one document',
      ),
    );
  }
  return { doc, lines };
}

/** Scalar keys repeated in one mapping, found with one set per mapping (as js-yaml, which refuses them too). */
function duplicateKeys(doc: Document.Parsed): YAMLParseError[] {
  const errors: YAMLParseError[] = [];
  visit(doc, {
    Map(_, map) {
      if (!isMap(map)) return;
      const seen = new Set<unknown>();
      for (const { key } of map.items) {
        if (!isScalar(key)) continue;
        if (seen.has(key.value) && key.range) {
          errors.push(
            new YAMLParseError([key.range[0], key.range[1]], 'DUPLICATE_KEY', 'Map keys must be unique'),
          );
        }
        seen.add(key.value);
      }
    },
  });
  return errors;
}

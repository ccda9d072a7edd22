import { isMap, isPair, isScalar, isSeq, LineCounter, type Document, type Node } from 'yaml';
import { excerptText } from '../core/excerpt';

export type ConfigPath = readonly (string | number)[];

/** One thing wrong with a configuration, located in its file. */
export interface ConfigIssue {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
}

/**
 * Messages and paths quote the file, and a file can hold a 60,000-character id, a control character
 * or, in a syntax error, a line of megabytes: each is cut and escaped, so every error stays one
 * readable line.
 */
const MESSAGE_CHARS = 1_000;
const PATH_CHARS = 300;

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    issues = issues.map((issue) => ({
      ...issue,
      path: excerptText(issue.path, PATH_CHARS),
      message: excerptText(issue.message, MESSAGE_CHARS),
    }));
    super(
      `${issues.length} configuration error${issues.length === 1 ? '' : 's'}:\n${issues.map(formatIssue).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.column}` : issue.file;
  return `${where} ${issue.path || '(root)'}: ${issue.message}`;
}

/** `zones[3].program.steps[1].level` */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

/** Maps a path in the parsed data back to a line and column of the YAML source. */
export class SourceLocator {
  constructor(
    private readonly file: string,
    private readonly doc: Document | undefined,
    private readonly lines: LineCounter | undefined,
  ) {}

  issue(path: ConfigPath, message: string, options: { atKey?: string } = {}): ConfigIssue {
    const offset = this.offsetOf(path, options.atKey);
    const pos = offset !== undefined && this.lines ? this.lines.linePos(offset) : { line: 0, col: 0 };
    return { file: this.file, line: pos.line, column: pos.col, path: formatPath(path), message };
  }

  /** Deepest existing node along the path: a missing field is reported where its parent is. */
  private offsetOf(path: ConfigPath, atKey: string | undefined): number | undefined {
    if (!this.doc) return undefined;
    if (!this.doc.contents) return 0; // an empty file: what is missing is missing from its start
    let node: Node | null = this.doc.contents;
    for (const part of path) {
      if (!node) break;
      const next = childOf(node, part);
      if (!next) break;
      node = next.value ?? next.key;
      if (!next.value) break;
    }
    if (atKey !== undefined && isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === atKey);
      if (pair && isScalar(pair.key) && pair.key.range) return pair.key.range[0];
    }
    return node?.range?.[0];
  }
}

function childOf(node: Node, part: string | number): { key: Node | null; value: Node | null } | undefined {
  if (isSeq(node) && typeof part === 'number') {
    const item = node.items[part] as Node | undefined;
    return item ? { key: null, value: item } : undefined;
  }
  if (isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === part);
    if (!pair) return undefined;
    return { key: pair.key as Node, value: (pair.value as Node | null) ?? null };
  }
  return undefined;
}

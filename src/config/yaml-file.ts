/** Reads one YAML file, turning syntax errors into ConfigIssues with line and column. */
import { parseDocument } from 'yaml';
import { MAX_CONFIG_FILE_BYTES, describeReadFailure, readFileBounded } from './bounded-read.js';
import { configIssue, type ConfigIssue } from './config-issue.js';

export type YamlReadResult = { ok: true; value: unknown } | { ok: false; issues: ConfigIssue[] };

export async function readYamlFile(absolutePath: string, displayPath: string): Promise<YamlReadResult> {
  let text: string;
  try {
    text = (await readFileBounded(absolutePath, MAX_CONFIG_FILE_BYTES)).toString('utf8');
  } catch (error) {
    return { ok: false, issues: [configIssue(displayPath, '', `a readable YAML file of at most ${MAX_CONFIG_FILE_BYTES} bytes`, describeReadFailure(error))] };
  }
  return parseYamlText(text, displayPath);
}

/** yaml's own guard against alias bombs: a document expanding aliases more often is refused. */
const MAX_ALIAS_COUNT = 100;

export function parseYamlText(text: string, displayPath: string): YamlReadResult {
  // Core schema (YAML 1.2): `yes`/`on` stay strings; duplicate keys are errors (a common typo source).
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, schema: 'core' });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      issues: doc.errors.map((error) => {
        const position = error.linePos?.[0];
        const where = position === undefined ? '' : `line ${position.line}, column ${position.col}`;
        // yaml's own message names the problem; drop its trailing context lines (they may quote file content).
        const firstLine = error.message.split('\n')[0] ?? error.message;
        const what = firstLine.replace(/ at line \d+, column \d+:?$/, '');
        return configIssue(displayPath, where, 'valid YAML', `a syntax error (${what})`);
      }),
    };
  }
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown };
  } catch (error) {
    // yaml refuses to expand a document whose aliases would multiply (a "billion laughs" bomb):
    // that is this file's problem, reported like any other so the other files' problems still show.
    if (error instanceof ReferenceError && /alias/i.test(error.message)) {
      return { ok: false, issues: [configIssue(displayPath, '', `YAML with at most ${MAX_ALIAS_COUNT} alias expansions`, 'aliases that expand too many times (an alias bomb?)')] };
    }
    return { ok: false, issues: [configIssue(displayPath, '', 'valid YAML', `a document that cannot be read (${error instanceof Error ? error.name : 'unknown error'})`)] };
  }
}

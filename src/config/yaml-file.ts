/** Reads one YAML file, turning syntax errors into ConfigIssues with line and column. */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { configIssue, type ConfigIssue } from './config-issue.js';

export type YamlReadResult = { ok: true; value: unknown } | { ok: false; issues: ConfigIssue[] };

export async function readYamlFile(absolutePath: string, displayPath: string): Promise<YamlReadResult> {
  let text: string;
  try {
    text = await readFile(absolutePath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const found = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'a file this process may not read' : `a read error (${code ?? 'unknown'})`;
    return { ok: false, issues: [configIssue(displayPath, '', 'a readable YAML file', found)] };
  }
  return parseYamlText(text, displayPath);
}

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
  return { ok: true, value: doc.toJS({ maxAliasCount: 100 }) as unknown };
}

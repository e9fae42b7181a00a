import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MIGRATIONS_FOLDER } from '../../src/db/migrate.js';

/**
 * A copy of the migrations folder as a previous release shipped it: every migration before the one
 * whose tag ends with `suffix`. Removed by the returned cleanup.
 */
export function migrationsBefore(suffix: string): { folder: string; cleanup: () => void } {
  const folder = mkdtempSync(path.join(tmpdir(), 'marktag-migrations-'));
  cpSync(MIGRATIONS_FOLDER, folder, { recursive: true });
  const journalFile = path.join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { tag: string }[] };
  const index = journal.entries.findIndex((entry) => entry.tag.endsWith(suffix));
  if (index <= 0) throw new Error(`no migration ${suffix} after the first`);
  writeFileSync(journalFile, JSON.stringify({ ...journal, entries: journal.entries.slice(0, index) }));
  return { folder, cleanup: () => rmSync(folder, { recursive: true, force: true }) };
}

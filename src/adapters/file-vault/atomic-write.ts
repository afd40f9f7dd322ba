/**
 * Replaces a file so that, whatever instant the process or the machine dies at, the path holds
 * either the complete old bytes or the complete new bytes:
 *   1. write a temp file in the SAME directory (rename is atomic only within one file system),
 *   2. fsync it (its data is on disk before its name can point at it),
 *   3. rename it over the target (atomic on POSIX),
 *   4. fsync the directory (the rename itself survives a power cut).
 * Only after step 4 is a write acknowledged to the caller.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ioError } from './vault-errors.js';
import { isProcessAlive } from './process-alive.js';

const TEMP_SUFFIX = '.tmp';

function tempPrefix(path: string): string {
  return `${basename(path)}.`;
}

export async function writeFileAtomic(path: string, data: Buffer, mode = 0o600): Promise<void> {
  await writeFileAtomicWith(path, (handle) => handle.writeFile(data), mode);
}

/**
 * As {@link writeFileAtomic}, the content written by `fill` into the temp file's handle (in pieces,
 * at any offsets): a large file need not be held in memory whole.
 */
export async function writeFileAtomicWith(path: string, fill: (handle: FileHandle) => Promise<void>, mode = 0o600): Promise<void> {
  const temp = join(dirname(path), `${tempPrefix(path)}${process.pid}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await fill(handle);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw ioError('writing', path, error);
  }
  await fsyncDirectory(dirname(path));
}

export async function fsyncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    // Some file systems refuse fsync on a directory (EINVAL/EISDIR); the rename is then as
    // durable as that file system can make it.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw ioError('syncing directory', dir, error);
  } finally {
    await handle?.close();
  }
}

/**
 * Removes temp files left by writers that died between steps 1 and 3 (their pid is in the name).
 * Call it while holding the vault lock.
 */
export async function removeOrphanTempFiles(path: string): Promise<number> {
  const dir = dirname(path);
  const prefix = tempPrefix(path);
  let removed = 0;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  // Our temp files (`<vault>.<pid>.<hex>.tmp`) and the locks' (`<vault>.lock[.break].<pid>.<hex>.tmp`).
  const pattern = new RegExp(`^${escapeRegExp(prefix)}(?:lock\\.(?:break\\.)?)?(\\d+)\\.[0-9a-f]+${escapeRegExp(TEMP_SUFFIX)}$`);
  for (const name of names) {
    const match = pattern.exec(name);
    if (match === null) continue;
    const pid = Number(match[1]);
    if (!Number.isInteger(pid) || pid <= 0 || isProcessAlive(pid)) continue;
    await unlink(join(dir, name)).then(
      () => (removed += 1),
      () => undefined,
    );
  }
  return removed;
}


function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Size-capped file reads for everything the service reads from disk on an operator's word: config
 * and job files, `*_FILE` secrets, the vault key. A path pointing at `/dev/zero`, a log file or a
 * multi-gigabyte mistake must be an error naming the file, not a process that fills its memory:
 * `readFileSync` on `/dev/zero` never returns. The read stops one byte past the cap, whatever the
 * file is (a device or pipe reports no useful size).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';

/** Config and job YAML files. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
/** A credential, token or key file (`*_FILE`, `vault.file.keyFile`). */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

/** Thrown when a file holds more than the cap; `code` is `FILE_TOO_LARGE`. */
export class FileTooLargeError extends Error {
  readonly code = 'FILE_TOO_LARGE';
  constructor(
    readonly path: string,
    readonly maxBytes: number,
  ) {
    super(`${path} is larger than ${maxBytes} bytes`);
    this.name = 'FileTooLargeError';
  }
}

/** The whole file, or `FileTooLargeError` past `maxBytes`; other failures are Node's (ENOENT, EACCES, …). */
export function readFileBoundedSync(path: string, maxBytes: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const stats = fstatSync(fd);
    if (stats.isFile() && stats.size > maxBytes) throw new FileTooLargeError(path, maxBytes);
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
    }
    if (length > maxBytes) throw new FileTooLargeError(path, maxBytes);
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

/** Asynchronous {@link readFileBoundedSync}. */
export async function readFileBounded(path: string, maxBytes: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const stats = await handle.stat();
    if (stats.isFile() && stats.size > maxBytes) throw new FileTooLargeError(path, maxBytes);
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) throw new FileTooLargeError(path, maxBytes);
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

/** How a read failure is described in a config message: the errno code or the cap, never content. */
export function describeReadFailure(error: unknown): string {
  if (error instanceof FileTooLargeError) return `a file larger than ${error.maxBytes} bytes`;
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'a file this process may not read' : code === 'EISDIR' ? 'a directory' : `a read error (${code ?? 'unknown'})`;
}

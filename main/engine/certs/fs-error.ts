import { HomeportError } from '../errors';

/** What a file-system error code means to the user; fsError and outPathError word each kind their own way. */
type FsErrorKind = 'denied' | 'full' | 'in-the-way' | 'other';

function kindOf(code: string | undefined): FsErrorKind {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return 'denied';
    case 'ENOSPC':
    case 'EDQUOT':
      return 'full';
    case 'ENOTDIR':
    case 'EEXIST':
      return 'in-the-way';
    default:
      return 'other';
  }
}

/** File-system failures in the data directory, said plainly with the fix. */
export function fsError(e: unknown, where: string): HomeportError {
  if (e instanceof HomeportError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  switch (kindOf(code)) {
    case 'denied':
      return new HomeportError('data.unwritable', `Homeport cannot write to ${where} (${code}).`, {
        fix: `Make the data directory writable for this user, or choose another one with --data-dir.`,
        cause: e,
      });
    case 'full':
      return new HomeportError('data.full', `The disk holding ${where} is full.`, { fix: 'Free some space and try again.', cause: e });
    case 'in-the-way':
      return new HomeportError('data.not-a-directory', `${where} is in the way: a file stands where Homeport needs a directory.`, {
        fix: 'Move that file away, or choose another data directory with --data-dir.',
        cause: e,
      });
    case 'other':
      return new HomeportError('data.io', `Homeport could not use ${where}: ${(e as Error).message ?? String(e)}.`, { cause: e });
  }
}

/**
 * The same failures for an export's --out path. The user chose that path, so the fix is
 * another --out, not another data directory; the message names only `out`, never the
 * temporary file written next to it.
 */
export function outPathError(e: unknown, out: string): HomeportError {
  if (e instanceof HomeportError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  switch (kindOf(code)) {
    case 'denied':
      return new HomeportError('export.unwritable', `This user may not write ${out}${code === 'EROFS' ? ': the file system is read-only' : ''}.`, {
        fix: 'Choose another --out path, e.g. in your home directory.',
        cause: e,
      });
    case 'full':
      return new HomeportError('export.disk-full', `The disk holding ${out} is full.`, { fix: 'Free some space, or choose another --out path.', cause: e });
    case 'in-the-way':
      return new HomeportError('export.in-the-way', `Cannot write ${out}: a file stands where a directory is needed.`, {
        fix: 'Choose another --out path, or move that file away.',
        cause: e,
      });
    case 'other':
      return new HomeportError('export.io', `Cannot create ${out}${code ? ` (${code})` : ''}.`, {
        fix: 'Choose another --out path, e.g. in your home directory.',
        cause: e,
      });
  }
}

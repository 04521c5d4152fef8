import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../atomic-file';
import { HomeportError } from '../errors';
import { outPathError } from './fs-error';
import { buildPkcs12 } from './pkcs12';

/**
 * A certificate in the shapes other software wants: the four PEM files (nginx, Caddy,
 * HAProxy …), a password-protected PFX/PKCS#12 (Windows, IIS, Java, appliances), or one zip
 * holding all of them. Every file that holds the key is written 0600.
 */
export type ExportFormat = 'pem' | 'pfx' | 'zip';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['pem', 'pfx', 'zip'];

export interface ExportSource {
  id: string;
  certPem: string;
  chainPem: string;
  fullchainPem: string;
  keyPem: string;
}

export interface ExportRequest {
  format: ExportFormat;
  /** pem: a directory (created); pfx and zip: a file. */
  out: string;
  /** Required for pfx; with zip, adds <id>.pfx to the archive. */
  password?: string;
}

export async function exportCertificate(src: ExportSource, req: ExportRequest): Promise<string[]> {
  switch (req.format) {
    case 'pem': {
      const files = pemFiles(src);
      const written: string[] = [];
      try {
        await fs.mkdir(req.out, { recursive: true, mode: 0o700 });
        for (const [name, data] of Object.entries(files)) {
          const file = path.join(req.out, name);
          await writeFileAtomic(file, data, { mode: name === 'key.pem' ? 0o600 : 0o644 });
          written.push(file);
        }
      } catch (e) {
        throw outPathError(e, req.out);
      }
      return written;
    }
    case 'pfx': {
      const pfx = buildPkcs12({ ...src, password: req.password ?? '', friendlyName: src.id });
      await writeOut(req.out, pfx);
      return [req.out];
    }
    case 'zip': {
      await writeOut(req.out, await zip(src, req.password));
      return [req.out];
    }
    default:
      throw new HomeportError('export.format', `"${String(req.format)}" is not an export format.`, {
        fix: `Use one of ${EXPORT_FORMATS.join(', ')}.`,
      });
  }
}

function pemFiles(src: ExportSource): Record<string, string> {
  return { 'cert.pem': src.certPem, 'chain.pem': src.chainPem, 'fullchain.pem': src.fullchainPem, 'key.pem': src.keyPem };
}

async function zip(src: ExportSource, password: string | undefined): Promise<Buffer> {
  const { ZipFile } = require('yazl') as typeof import('yazl');
  const archive = new ZipFile();
  const mtime = new Date();
  for (const [name, data] of Object.entries(pemFiles(src))) {
    archive.addBuffer(Buffer.from(data), `${src.id}/${name}`, { mtime, mode: name === 'key.pem' ? 0o100600 : 0o100644 });
  }
  if (password) {
    archive.addBuffer(buildPkcs12({ ...src, password, friendlyName: src.id }), `${src.id}/${src.id}.pfx`, { mtime, mode: 0o100600 });
  }
  archive.end();
  const chunks: Buffer[] = [];
  for await (const chunk of archive.outputStream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function writeOut(file: string, data: Buffer): Promise<void> {
  try {
    const st = await fs.stat(file).catch(() => undefined);
    if (st?.isDirectory()) {
      throw new HomeportError('export.out-is-directory', `${file} is a directory.`, { fix: 'Give a file name with --out, e.g. --out site.pfx.' });
    }
    await writeFileAtomic(file, data, { mode: 0o600 });
  } catch (e) {
    throw outPathError(e, file);
  }
}

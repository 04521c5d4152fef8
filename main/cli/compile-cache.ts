import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as nodeModule from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vm from 'node:vm';

/**
 * Imported first by main/cli.ts. Most of a cold `homeport` run is V8 compiling the same
 * JavaScript again (zod, axios, acme-client, the engine): this keeps the compiled code of
 * every CommonJS module in one file in the user's cache directory and hands it back to V8 on the
 * next run. Node 22.1+ does the same itself (module.enableCompileCache), which is used when
 * present. The cache is produced at exit, after the run, so it holds the functions that
 * actually ran, and is written only when something new was compiled. A file's entry counts
 * only for the same source (SHA-256; a rebuild or reinstall that writes the same code keeps
 * it), and V8 rejects data from another V8 build, so an update never runs stale code.
 * HOMEPORT_NO_COMPILE_CACHE=1 turns it off.
 */
type Compile = (this: CjsModule, content: string, filename: string, format?: string) => unknown;
interface CjsModule {
  exports: unknown;
  require(id: string): unknown;
}
interface ModuleStatics {
  enableCompileCache?: () => unknown;
  prototype: { _compile: Compile };
  wrap(content: string): string;
  _resolveFilename(request: string, parent: CjsModule, isMain: boolean, options?: unknown): string;
  _resolveLookupPaths(request: string, parent: CjsModule): string[] | null;
  _extensions: unknown;
  _cache: unknown;
}
/** filename → [hash of the source, offset, length] in the blob. */
type Index = Record<string, [string, number, number]>;

const Module = nodeModule as unknown as ModuleStatics;
/**
 * A script compiled here cannot `import()` (Node's hook for that is experimental and lost with
 * cached data), so a module that may do so is compiled the usual way: the test errs on the
 * side of caution (a JSDoc `import('x')` type counts too).
 */
const DYNAMIC_IMPORT = /(?<![.\w$])import\s*\(/;

/**
 * The user's own cache directory, never a shared one like /tmp: compiled code read from a
 * directory someone else can write to would run as this user.
 */
function cacheDir(): string {
  const home = os.homedir();
  const root =
    process.env.XDG_CACHE_HOME ||
    (process.platform === 'win32' ? process.env.LOCALAPPDATA || path.join(home, 'AppData', 'Local')
      : process.platform === 'darwin' ? path.join(home, 'Library', 'Caches')
      : path.join(home, '.cache'));
  return path.join(root, 'homeport', 'compile-cache');
}

/** Only a directory of this user's that nobody else may write to. */
function ownedByThisUser(dir: string): boolean {
  const st = fs.statSync(dir);
  return process.platform === 'win32' || (st.uid === process.getuid?.() && (st.mode & 0o022) === 0);
}

function install(): void {
  const dir = cacheDir();
  const base = path.join(dir, `${process.version}-${process.arch}`);
  let index: Index = {};
  let blob = Buffer.alloc(0);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!ownedByThisUser(dir)) return;
  } catch {
    return; // no cache directory: compile as usual
  }
  try {
    // One file: the index's length, the index (JSON), then the compiled code it points into.
    const file = fs.readFileSync(`${base}.bin`);
    const length = file.readUInt32BE(0);
    index = JSON.parse(file.subarray(4, 4 + length).toString('utf8')) as Index;
    blob = file.subarray(4 + length);
  } catch {
    index = {};
  }
  const fresh = new Map<string, { script: vm.Script; hash: string }>();
  const plain = Module.prototype._compile;

  Module.prototype._compile = function (content, filename, format) {
    // ES modules (require(esm) on Node 20.19+), and anything unexpected, go the usual way.
    if (format === 'module' || !/\.c?js$/.test(filename) || DYNAMIC_IMPORT.test(content)) return plain.call(this, content, filename, format);
    const hash = sourceHash(content);
    const entry = index[filename];
    const cachedData = entry && entry[0] === hash ? blob.subarray(entry[1], entry[1] + entry[2]) : undefined;
    let script: vm.Script;
    try {
      script = new vm.Script(Module.wrap(content), { filename, cachedData });
    } catch {
      return plain.call(this, content, filename, format);
    }
    if (!cachedData || script.cachedDataRejected) fresh.set(filename, { script, hash });
    const fn = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    return fn.call(this.exports, this.exports, requireFor(this), this, filename, path.dirname(filename));
  };

  process.once('exit', () => {
    Module.prototype._compile = plain;
    if (fresh.size === 0) return;
    const tmp = `${base}.${process.pid}.tmp`;
    try {
      const parts: Buffer[] = [];
      const next: Index = {};
      let offset = 0;
      const add = (file: string, hash: string, data: Buffer) => {
        next[file] = [hash, offset, data.length];
        parts.push(data);
        offset += data.length;
      };
      for (const [file, e] of Object.entries(index)) {
        if (!fresh.has(file)) add(file, e[0], blob.subarray(e[1], e[1] + e[2]));
      }
      for (const [file, f] of fresh) add(file, f.hash, f.script.createCachedData());
      // Written aside and renamed: a concurrent run reads the old file or the new one, whole.
      const head = Buffer.from(JSON.stringify(next));
      const length = Buffer.alloc(4);
      length.writeUInt32BE(head.length);
      fs.writeFileSync(tmp, Buffer.concat([length, head, ...parts]), { mode: 0o600 });
      fs.renameSync(tmp, `${base}.bin`);
    } catch {
      // A cache that cannot be written only costs speed.
      fs.rmSync(tmp, { force: true });
    }
  });
}

function sourceHash(content: string): string {
  const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64') => string }).hash;
  return oneShot ? oneShot('sha256', content, 'base64') : crypto.createHash('sha256').update(content).digest('base64');
}

/** The `require` a CommonJS module gets, as Node makes it. */
function requireFor(mod: CjsModule): NodeJS.Require {
  const req = ((id: string) => mod.require(id)) as NodeJS.Require;
  req.resolve = ((request: string, options?: unknown) => Module._resolveFilename(request, mod, false, options)) as NodeJS.RequireResolve;
  req.resolve.paths = (request: string) => Module._resolveLookupPaths(request, mod);
  req.main = require.main;
  req.extensions = Module._extensions as NodeJS.RequireExtensions;
  req.cache = Module._cache as NodeJS.Dict<NodeJS.Module>;
  return req;
}

if (!process.env.HOMEPORT_NO_COMPILE_CACHE) {
  if (typeof Module.enableCompileCache === 'function') Module.enableCompileCache();
  else install();
}

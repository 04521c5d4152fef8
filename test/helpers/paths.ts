import * as path from 'node:path';

/** Tests run from dist/test/…; fixtures and the CLI are found from the repository root. */
export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const fixtures = path.join(repoRoot, 'test', 'fixtures');
export const cliPath = path.join(repoRoot, 'dist', 'main', 'cli.js');

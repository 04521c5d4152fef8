// Kept in code (not read from package.json at run time) so the CLI starts without extra file I/O.
export const version = '0.1.0';

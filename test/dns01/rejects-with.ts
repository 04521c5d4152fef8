import * as assert from 'node:assert/strict';
import { HomeportError } from '../../main/engine/errors';

/** Awaits a rejection that is a HomeportError with this code (and message), which carries a fix. */
export async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<HomeportError> {
  const err = await p.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof HomeportError, `not a HomeportError: ${err}`);
  assert.equal(err.code, code, err.message);
  if (message) assert.match(err.message, message);
  assert.ok(err.fix, 'every error carries a fix');
  return err;
}

import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { capitalized, resolveCa } from '../../main/engine/acme/cas';
import { aaaaNotThisHost } from '../../main/engine/preflight/wording';

// A CA given by its directory URL has no name: it is called by where it is, so sentences
// that name the CA read as well for it as for a preset.
test('a CA given by URL reads as "the CA at host:port" where a CA name belongs', () => {
  const url = resolveCa({ ca: 'https://127.0.0.1:28596/dir' });
  assert.equal(url.displayName, 'the CA at 127.0.0.1:28596');
  assert.equal(
    aaaaNotThisHost('nas.example.com', '2001:db8::99', url.displayName, []).summary,
    'nas.example.com has an AAAA record 2001:db8::99 that is not this host: the CA at 127.0.0.1:28596 prefers IPv6 and will fail.',
  );
  assert.equal(capitalized(url.displayName), 'The CA at 127.0.0.1:28596');
  const preset = resolveCa({ ca: 'letsencrypt' });
  assert.equal(
    aaaaNotThisHost('nas.example.com', '2001:db8::99', preset.displayName, []).summary,
    "nas.example.com has an AAAA record 2001:db8::99 that is not this host: Let's Encrypt prefers IPv6 and will fail.",
  );
  assert.equal(capitalized(preset.displayName), "Let's Encrypt");
});

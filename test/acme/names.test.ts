import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { normalizeName, normalizeNames } from '../../main/engine/acme/names';
import { resolverServer } from '../../main/engine/acme/solvers';

test('names are lower-cased, trailing dots dropped, IDNs turned into punycode', () => {
  assert.equal(normalizeName(' Home.Example.COM. '), 'home.example.com');
  assert.equal(normalizeName('bücher.example'), 'xn--bcher-kva.example');
  assert.equal(normalizeName('*.Bücher.example'), '*.xn--bcher-kva.example');
  assert.equal(normalizeName('例え.テスト'), 'xn--r8jz45g.xn--zckzah');
  assert.equal(normalizeName('192.0.2.7'), '192.0.2.7');
  assert.equal(normalizeName('2001:DB8::1'), '2001:db8::1');
});

test('invalid names are refused with the reason and a fix', () => {
  const cases: [string, RegExp][] = [
    ['', /empty/],
    ['localhost', /only one label/],
    ['a..example.com', /empty label/],
    ['-bad.example.com', /starts or ends with "-"/],
    ['under_score.example.com', /letters, digits and "-"/],
    ['foo.*.example.com', /wildcard may only be the whole first label/],
    ['*foo.example.com', /wildcard may only be the whole first label/],
    ['https://example.com/', /without scheme/],
    ['example.com:8443', /without scheme, port or path/],
    [`${'a'.repeat(64)}.example.com`, /longer than 63/],
    [`${'abcdefghi.'.repeat(26)}com`, /longer than 253/],
    ['xn--.example.com', /punycode|label/],
    ['1.2.3.999', /last label is a number/],
  ];
  for (const [input, why] of cases) {
    assert.throws(() => normalizeName(input), (e: any) => {
      assert.equal(e.code, 'config.invalid-name', input);
      assert.match(`${e.message} ${e.fix}`, why, `${input}: ${e.message}`);
      assert.ok(e.fix, 'has a fix');
      return true;
    });
  }
});

test('a list keeps its order, drops duplicates, and may not be empty', () => {
  assert.deepEqual(normalizeNames(['b.example.com', 'A.example.com', 'a.example.com.']), ['b.example.com', 'a.example.com']);
  assert.throws(() => normalizeNames([]), { code: 'config.no-names' });
});

test('--resolver takes an IP address with an optional port', () => {
  assert.equal(resolverServer('127.0.0.1:5353'), '127.0.0.1:5353');
  assert.equal(resolverServer('1.1.1.1'), '1.1.1.1:53');
  assert.equal(resolverServer('[2606:4700:4700::1111]:53'), '[2606:4700:4700::1111]:53');
  assert.equal(resolverServer('::1'), '[::1]:53');
  for (const bad of ['dns.example.com:53', '1.1.1.1:99999', '']) {
    assert.throws(() => resolverServer(bad), { code: 'config.invalid-resolver' }, bad);
  }
});

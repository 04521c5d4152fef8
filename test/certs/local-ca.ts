import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import type { Issuer, IssueRequest, IssuedCertificate } from '../../main/engine/certs/types';

/**
 * A real (if tiny) CA for lifecycle tests that need to choose notBefore, which no ACME CA
 * lets a client do: RSA keys made by node:crypto, certificates signed with node-forge.
 * Leaves are RSA whatever keyType asks (forge only speaks RSA); tests ask for rsa2048.
 */
export class LocalCa implements Issuer {
  readonly rootPem: string;
  private readonly rootKey: forge.pki.rsa.PrivateKey;
  private readonly rootCert: forge.pki.Certificate;
  issued = 0;
  /** When set, issue() rejects with it (the CA said no). */
  failWith: Error | undefined;

  constructor(
    private readonly opts: { notBefore: () => number; lifetimeMs: number },
  ) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.rootKey = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }) as string) as forge.pki.rsa.PrivateKey;
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.setRsaPublicKey(this.rootKey.n, this.rootKey.e);
    cert.serialNumber = '01';
    cert.validity.notBefore = new Date(Date.UTC(2020, 0, 1));
    cert.validity.notAfter = new Date(Date.UTC(2040, 0, 1));
    const name = [{ name: 'commonName', value: 'Homeport local test CA' }];
    cert.setSubject(name);
    cert.setIssuer(name);
    cert.setExtensions([{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, critical: true }]);
    cert.sign(this.rootKey, forge.md.sha256.create());
    this.rootCert = cert;
    this.rootPem = forge.pki.certificateToPem(cert);
  }

  async issue(req: IssueRequest): Promise<IssuedCertificate> {
    req.onProgress?.('Asking the local test CA');
    if (this.failWith) throw this.failWith;
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const key = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }) as string) as forge.pki.rsa.PrivateKey;
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
    cert.serialNumber = '7' + randomBytes(8).toString('hex');
    const nb = this.opts.notBefore();
    cert.validity.notBefore = new Date(nb);
    cert.validity.notAfter = new Date(nb + this.opts.lifetimeMs);
    cert.setSubject([{ name: 'commonName', value: req.names[0]! }]);
    cert.setIssuer(this.rootCert.subject.attributes);
    cert.setExtensions([
      { name: 'subjectAltName', altNames: req.names.map((value) => ({ type: 2, value })) },
      { name: 'extKeyUsage', serverAuth: true },
    ]);
    cert.sign(this.rootKey, forge.md.sha256.create());
    this.issued++;
    return {
      certPem: forge.pki.certificateToPem(cert),
      chainPem: this.rootPem,
      keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      ca: 'local-test-ca',
    };
  }
}

import { Clock, systemClock } from '../../main/engine/clock';
import { LogList, parseSignedLogList } from '../../main/engine/ct/log-list';
import { ListedOperator, SignedLogList, buildLogList } from './log-list';
import { Integration, Rfc6962TestLog } from './rfc6962-log';
import { StaticCtTestLog } from './static-ct-log';
import { TestCa } from './test-ca';

/**
 * The whole CT world of the tests, on loopback: a test CA and four logs of two operators,
 * listed in a signed v3 log list.
 *
 * | log | operator | API | state |
 * |---|---|---|---|
 * | argon | Test Operator A | RFC 6962 | usable |
 * | oldArgon | Test Operator A | RFC 6962 | retired (30 days before the clock's start, unless told) |
 * | sky | Test Operator B | static-ct-api | usable |
 * | lagging | Test Operator B | RFC 6962 | usable, but never merges what it accepts (MMD 60 s) |
 */
export interface CtTestbedOptions {
  clock?: Clock;
  /** When oldArgon retired (ms). */
  retiredAt?: number;
  skyIntegration?: Integration;
  argonIntegration?: Integration;
}

export interface CtTestbed {
  clock: Clock;
  ca: TestCa;
  argon: Rfc6962TestLog;
  oldArgon: Rfc6962TestLog;
  sky: StaticCtTestLog;
  lagging: Rfc6962TestLog;
  /** The signed list as files would hold it (json, detached signature, the list's public key). */
  signedList: SignedLogList;
  /** The same list as Homeport loads it, signature checked. */
  list: LogList;
  stop(): Promise<void>;
}

const DAY = 86_400_000;

export async function startCtTestbed(opts: CtTestbedOptions = {}): Promise<CtTestbed> {
  const clock = opts.clock ?? systemClock;
  const ca = new TestCa(clock);
  const roots = [ca.rootDer];
  const argon = new Rfc6962TestLog({ name: 'Homeport Test Argon', roots, clock, integration: opts.argonIntegration });
  const oldArgon = new Rfc6962TestLog({ name: 'Homeport Test Argon (retired)', roots, clock });
  const sky = new StaticCtTestLog({ name: 'Homeport Test Sky', roots, clock, integration: opts.skyIntegration });
  const lagging = new Rfc6962TestLog({ name: 'Homeport Test Lagging', roots, clock, integration: 'never', mmd: 60 });
  const logs = [argon, oldArgon, sky, lagging];
  await Promise.all(logs.map((l) => l.start()));
  const start = clock.now();
  const usable = { state: 'usable' as const, since: start - 365 * DAY };
  const operators: ListedOperator[] = [
    {
      name: 'Test Operator A',
      logs: [
        { log: argon, ...usable },
        { log: oldArgon, state: 'retired', since: opts.retiredAt ?? start - 30 * DAY },
      ],
    },
    {
      name: 'Test Operator B',
      logs: [
        { log: sky, ...usable },
        { log: lagging, ...usable },
      ],
    },
  ];
  const signedList = buildLogList(operators, start);
  const list = parseSignedLogList(signedList.json, signedList.signature, signedList.publicKeyPem, start);
  return {
    clock,
    ca,
    argon,
    oldArgon,
    sky,
    lagging,
    signedList,
    list,
    stop: async () => {
      await Promise.all(logs.map((l) => l.stop()));
    },
  };
}

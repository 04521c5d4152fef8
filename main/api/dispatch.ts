import { z } from 'zod';
import { isHomeportError } from '../engine/errors';
import type { ApiError, ApiEvent, ApiMethod, HomeportApi, Result } from './contract';
import { inputSchemas } from './schemas';

/**
 * What a transport (Electron IPC, the headless HTTP host) needs: the method names it may
 * route, one entry point that validates and answers with a Result, and the event feed.
 */
export interface ApiHost {
  readonly methods: readonly ApiMethod[];
  call(method: string, input: unknown): Promise<Result<unknown>>;
  onEvent(listener: (event: ApiEvent) => void): () => void;
}

export const API_METHODS = Object.keys(inputSchemas) as ApiMethod[];

/**
 * Wraps an implementation of the contract: unknown methods are refused, every input is
 * parsed with its zod schema before the implementation runs, and every failure becomes a
 * plain ApiError (never a stack trace).
 */
export function createApiHost(impl: HomeportApi, subscribe: ApiHost['onEvent']): ApiHost {
  return {
    methods: API_METHODS,
    onEvent: subscribe,
    async call(method, input) {
      if (!Object.hasOwn(inputSchemas, method)) {
        return { ok: false, error: { code: 'api.unknown-method', message: `There is no API method "${method}".` } };
      }
      const m = method as ApiMethod;
      const parsed = inputSchemas[m].safeParse(input);
      if (!parsed.success) return { ok: false, error: inputError(parsed.error) };
      try {
        const fn = impl[m] as (req: unknown) => Promise<unknown>;
        return { ok: true, value: await fn.call(impl, parsed.data) };
      } catch (e) {
        return { ok: false, error: toApiError(e) };
      }
    },
  };
}

export function inputError(error: z.ZodError): ApiError {
  const issue = error.issues[0]!;
  const field = issue.path.map(String).join('.');
  const message = issue.code === 'unrecognized_keys'
    ? `Unexpected field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}.`
    : issue.code === 'invalid_type' && issue.input === undefined
      ? `${field || 'The request'} is missing.`
      : issue.message;
  return {
    code: 'api.invalid-input',
    message: field && !message.startsWith(field) && issue.code !== 'unrecognized_keys' ? `${field}: ${message}` : message,
    fix: 'Correct the highlighted field and try again.',
    ...(field ? { field } : {}),
  };
}

export function toApiError(e: unknown): ApiError {
  if (isHomeportError(e)) return { code: e.code, message: e.message, ...(e.fix ? { fix: e.fix } : {}) };
  return {
    code: 'internal',
    message: `Something unexpected went wrong: ${e instanceof Error ? e.message : String(e)}`,
    fix: 'Try again; if it keeps happening, the log in the data directory has the details.',
  };
}

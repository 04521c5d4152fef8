/**
 * Every failure a user can see is a HomeportError: a stable code for programs, a
 * plain-language message for people, and the fix when there is one.
 */
export class HomeportError extends Error {
  override readonly name: string = 'HomeportError';
  constructor(
    /** Stable, dotted identifier, e.g. `config.invalid-name`, `acme.unreachable-directory`. */
    readonly code: string,
    message: string,
    readonly options: { fix?: string; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }

  get fix(): string | undefined {
    return this.options.fix;
  }

  get details(): Record<string, unknown> | undefined {
    return this.options.details;
  }

  /** One line for a terminal: what went wrong, then what to do. */
  toLine(): string {
    return this.fix ? `${this.message} Fix: ${this.fix}` : this.message;
  }

  toJSON(): { code: string; message: string; fix?: string; details?: Record<string, unknown> } {
    return { code: this.code, message: this.message, fix: this.fix, details: this.details };
  }
}

export function isHomeportError(e: unknown): e is HomeportError {
  return e instanceof HomeportError;
}

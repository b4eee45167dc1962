/**
 * The one error class of piosim. `code` is drawn from a closed union so callers (above all the
 * CLI, which maps codes to exit statuses in one place) can branch on it; `message` names the
 * bad value and what was expected.
 */
export type PiosimErrorCode =
  // bad usage or input (CLI exit status 2)
  | 'usage'
  | 'bad-option'
  | 'guest-file'
  // io-bus registration
  | 'bus-range'
  | 'bus-overlap'
  | 'bus-full'
  | 'bus-not-found'
  | 'bus-access-size'
  // the guest did something the CPU model cannot run (exit status 4)
  | 'guest-fault'
  // host-side failures (exit status 8)
  | 'worker-crash'
  | 'host';

export class PiosimError extends Error {
  readonly code: PiosimErrorCode;

  constructor(code: PiosimErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PiosimError';
    this.code = code;
  }
}

export function isPiosimError(e: unknown): e is PiosimError {
  return e instanceof PiosimError;
}

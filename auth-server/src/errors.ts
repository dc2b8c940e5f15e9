import { LocalError } from '@tessera/shared';

/**
 * Bad input to a domain operation (an admin command, a registration): code `invalid_input` of the
 * error catalogue (shared/src/errors.ts); the message names the problem and is safe to show to
 * whoever typed it. The CLI prints it as one line; it never reaches the HTTP edge, which answers
 * with the shared `AppError` and RFC error codes.
 */
export class UserInputError extends LocalError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_input', message, options);
    this.name = 'UserInputError';
  }
}

/**
 * Bad input to a domain operation (an admin command, a registration): the message names the
 * problem and is safe to show to whoever typed it. The CLI prints it as one line; it never
 * reaches the HTTP edge, which answers with the shared `AppError` and RFC error codes.
 */
export class UserInputError extends Error {
  override name = 'UserInputError';
}

import { describe, expect, test } from '@jest/globals';
import { AppError, ConfigError, errorCodeOf, exitStatusOf, LocalError } from '../src/index.js';

describe('the error catalogue', () => {
  test('errors carry their code: wire codes with an HTTP status, local codes with an exit status', () => {
    expect(new AppError('invalid_grant', 'x')).toMatchObject({ code: 'invalid_grant', status: 400 });
    expect(errorCodeOf(new AppError('temporarily_unavailable', 'x'))).toBe('temporarily_unavailable');
    expect(errorCodeOf(new LocalError('usage', 'x'))).toBe('usage');
    expect(errorCodeOf(new ConfigError(['PORT: expected a number']))).toBe('invalid_config');
    expect([exitStatusOf('usage'), exitStatusOf('invalid_config'), exitStatusOf('invalid_input')]).toEqual([
      2, 1, 1,
    ]);
    // A wire code ending a process (an AppError thrown in the CLI) is a failed command.
    expect(exitStatusOf('invalid_request')).toBe(1);
  });

  test('anything else is `failed` (exit 1), whatever `code` it has (a Node.js system error, a driver error)', () => {
    expect(errorCodeOf(new Error('boom'))).toBe('failed');
    expect(errorCodeOf(Object.assign(new Error('no file'), { code: 'ENOENT' }))).toBe('failed');
    expect(errorCodeOf(Object.assign(new Error('proto'), { code: 'toString' }))).toBe('failed');
    expect(errorCodeOf('a string')).toBe('failed');
    expect(errorCodeOf(null)).toBe('failed');
    expect(exitStatusOf('failed')).toBe(1);
  });
});

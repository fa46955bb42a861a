import { describe, expect, it } from 'vitest';

import { ApiError, describeError, errorCode, errorMessage } from '../src/errors';

describe('errorMessage', () => {
  it('reads the message of a service error body', () => {
    const body = JSON.stringify({ error: 'not_found', message: 'No dataset users/alice/iris.' });
    expect(errorMessage(404, body)).toBe('No dataset users/alice/iris.');
  });

  it("falls back to the error code, then to Jupyter's reason", () => {
    expect(errorMessage(400, '{"error": "bad_request"}')).toBe('bad_request');
    expect(errorMessage(403, '{"reason": "XSRF cookie missing", "message": ""}')).toBe('XSRF cookie missing');
  });

  it('shows short plain text as it is and never an HTML page', () => {
    expect(errorMessage(500, 'upstream timed out')).toBe('upstream timed out');
    expect(errorMessage(502, '<html><body>Bad gateway</body></html>')).toBe('A service of the platform does not answer.');
  });

  it('says something readable for an empty body', () => {
    expect(errorMessage(401, '')).toMatch(/log in again/);
    expect(errorMessage(418, '')).toBe('The request failed (HTTP 418).');
    expect(errorMessage(400, '{"items": []}')).toBe('The request failed (HTTP 400).');
  });
});

describe('errorCode and describeError', () => {
  it('reads the code, or none', () => {
    expect(errorCode('{"error": "conflict", "message": "taken"}')).toBe('conflict');
    expect(errorCode('not json')).toBeNull();
  });

  it('turns anything thrown into a sentence', () => {
    expect(describeError(new ApiError('No such model.', 404, 'not_found'))).toBe('No such model.');
    expect(describeError('plain')).toBe('plain');
    expect(describeError(undefined)).toBe('Something went wrong.');
  });
});

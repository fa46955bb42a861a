/**
 * Readable messages from failed answers: the services and the server extension answer
 * `{"error": code, "message": text}`; users see the text, never the JSON.
 */

/** An answer that was not a success, with the message a person should read. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null = null
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const GENERIC: Record<number, string> = {
  401: 'You are not logged in any more: reload the page to log in again.',
  403: 'You are not allowed to do that.',
  404: 'Not found.',
  502: 'A service of the platform does not answer.',
  503: 'A service of the platform is not available right now; try again in a moment.'
};

/** The message of a failed answer's body: its JSON `message`, else short plain text, else a sentence for the status. */
export function errorMessage(status: number, body: string): string {
  const text = body.trim();
  if (text) {
    let parsed: unknown = undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: plain text is shown when it is short and not an HTML page.
      if (text.length <= 300 && !text.startsWith('<')) {
        return text;
      }
    }
    if (parsed && typeof parsed === 'object') {
      const record = parsed as Record<string, unknown>;
      for (const key of ['message', 'reason', 'error']) {
        const value = record[key];
        if (typeof value === 'string' && value.trim()) {
          return value.trim();
        }
      }
    }
  }
  return GENERIC[status] ?? `The request failed (HTTP ${status}).`;
}

/** The `error` code of a failed answer's JSON body, if it has one. */
export function errorCode(body: string): string | null {
  try {
    const parsed = JSON.parse(body);
    return parsed && typeof parsed.error === 'string' ? parsed.error : null;
  } catch {
    return null;
  }
}

/** Something thrown, as a sentence for a person. */
export function describeError(error: unknown): string {
  if (error instanceof Error && error.message) {
    return error.message;
  }
  return typeof error === 'string' && error ? error : 'Something went wrong.';
}

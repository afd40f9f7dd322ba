/**
 * The body parser of the JSON write endpoints: JSON only, UTF-8 only, size-capped.
 *
 * `jsonBody({ limit })` returns express middlewares that answer
 * - 415 `{error: 'unsupported-media-type'}` unless `Content-Type` is `application/json` (with no
 *   charset, or `utf-8`), even for an empty body: an HTML form can only send
 *   `application/x-www-form-urlencoded`, `multipart/form-data` or `text/plain`, so requiring JSON
 *   means a cross-site form can never reach a write endpoint (and a cross-site `fetch` with JSON
 *   needs a CORS preflight, which this server never grants);
 * - 413 when the body is over `limit`, 400 when it is not valid JSON, 415 for another charset or a
 *   compressed body (through `clientErrorHandler` in ./client-errors.ts, which maps the parser's errors).
 */
import express from 'express';
import type { RequestHandler } from 'express';

/** Options of {@link jsonBody}. */
export interface JsonBodyOptions {
  /** Largest body accepted, in bytes or as `'4mb'`. */
  limit: number | string;
}

export function jsonBody(options: JsonBodyOptions): RequestHandler[] {
  const requireJson: RequestHandler = (req, res, next) => {
    if (!req.is('application/json')) {
      res.status(415).json({
        error: 'unsupported-media-type',
        message: `expected Content-Type: application/json, found ${req.get('content-type') === undefined ? 'none' : JSON.stringify(req.get('content-type'))}`,
      });
      return;
    }
    next();
  };
  // inflate: false refuses gzip/deflate bodies (a small compressed body can expand past any limit).
  return [requireJson, express.json({ limit: options.limit, strict: true, inflate: false, type: 'application/json' })];
}

/**
 * The HTTP server's last error handler. A client's mistake (malformed JSON, a body over the limit,
 * an unsupported charset or encoding) is answered with its 4xx status and logged at warn: it is not
 * the service failing. Anything else is 500 with a fixed message, logged at error; no answer ever
 * carries a stack or the request body.
 */
import type { IncomingMessage } from 'node:http';
import type { ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';

/** body-parser's error types (the `type` property of its errors) and how each is answered. */
const CLIENT_ERRORS: Record<string, { status: number; error: string; message: string }> = {
  'entity.parse.failed': { status: 400, error: 'bad-request', message: 'the body is not valid JSON' },
  'entity.verify.failed': { status: 400, error: 'bad-request', message: 'the body was refused' },
  'request.aborted': { status: 400, error: 'bad-request', message: 'the request was aborted before its body was read' },
  'request.size.invalid': { status: 400, error: 'bad-request', message: 'the body is shorter or longer than its Content-Length' },
  'entity.too.large': { status: 413, error: 'payload-too-large', message: 'the body is larger than this endpoint accepts' },
  'charset.unsupported': { status: 415, error: 'unsupported-media-type', message: 'expected a UTF-8 body' },
  'encoding.unsupported': { status: 415, error: 'unsupported-media-type', message: 'expected an uncompressed body (no Content-Encoding)' },
  'parameters.too.many': { status: 413, error: 'payload-too-large', message: 'the body has too many parameters' },
};

/** Past this much unread body, the connection is cut instead of drained. */
const MAX_DISCARDED_BYTES = 64 * 1024 * 1024;

function discardRest(req: IncomingMessage, maxBytes: number): void {
  let seen = 0;
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > maxBytes) req.destroy();
  });
  req.on('error', () => undefined);
  req.resume();
}

export function clientErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const type = (error as { type?: unknown })?.type;
    const known = typeof type === 'string' ? CLIENT_ERRORS[type] : undefined;
    const status = (error as { status?: unknown })?.status;
    if (known !== undefined || (typeof status === 'number' && status >= 400 && status < 500)) {
      const answer = known ?? { status: status as number, error: 'bad-request', message: 'the request was refused' };
      logger.warn({ path: req.path, method: req.method, status: answer.status, reason: answer.message }, 'http: client error');
      if (!res.headersSent) {
        // The parser stopped reading mid-body: close the connection after this answer, and discard
        // what the client is still sending (up to a bound) so that it gets to read the answer
        // instead of a connection reset.
        res.set('Connection', 'close');
        res.status(answer.status).json({ error: answer.error, message: answer.message });
      }
      if (!req.complete) discardRest(req, MAX_DISCARDED_BYTES);
      return;
    }
    logger.error({ path: req.path, err: { message: (error as Error)?.message } }, 'http: request failed');
    if (!res.headersSent) res.status(500).json({ error: 'internal', message: 'the request failed; see the service log' });
  };
}

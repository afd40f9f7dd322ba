import type { Logger } from 'pino';

/**
 * SIGTERM/SIGINT: the first stops gracefully and exits 0; a second exits at once with 143/130
 * (in-flight batches are then recovered by BullMQ's stalled-job check in another worker).
 */
export function installShutdownSignals(
  stop: () => Promise<void>,
  logger: Logger,
  exit: (code: number) => void = (code) => process.exit(code),
): () => void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    const code = signal === 'SIGINT' ? 130 : 143;
    if (signalled) {
      logger.warn({ signal }, 'shutdown: second signal, exiting now');
      exit(code);
      return;
    }
    signalled = true;
    logger.info({ signal }, 'shutdown: stopping (send the signal again to exit at once)');
    stop().then(
      () => exit(0),
      (error: unknown) => {
        logger.error({ err: { message: (error as Error).message } }, 'shutdown: failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
}

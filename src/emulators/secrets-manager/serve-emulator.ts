/**
 * Runs the Secrets Manager emulator on its own for the demo and development:
 *   npx tsx src/emulators/secrets-manager/serve-emulator.ts [--host 127.0.0.1] [--port 4566]
 * then point the SDK at it with AWS_ENDPOINT_URL_SECRETS_MANAGER=<printed url> (any credentials).
 * State is in memory and lost on exit.
 */
import { parseArgs } from 'node:util';
import { startSecretsManagerEmulator } from './secrets-manager-emulator.js';

const { values } = parseArgs({
  options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '4566' } },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write(`--port: expected an integer 0-65535, found ${JSON.stringify(values.port)}\n`);
  process.exit(2);
}
const emulator = await startSecretsManagerEmulator({ host: values.host, port });
process.stdout.write(`secrets manager emulator listening on ${emulator.url}\n`);
const stop = (): void => {
  emulator.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

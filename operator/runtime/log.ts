// pino JSON logs. Tokens never reach a log line: known secret fields are redacted, and
// messages are scrubbed of anything shaped like an ECR token or a docker config.
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'password',
  'token',
  'authorizationToken',
  'auth',
  'data',
  'credential',
  'credentials',
  'secretAccessKey',
  'sessionToken',
  '*.password',
  '*.token',
  '*.authorizationToken',
  '*.auth',
  '*.data',
  '*.credential',
  '*.credentials',
  '*.secretAccessKey',
  '*.sessionToken',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { component: 'ecr-credential-sync' },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

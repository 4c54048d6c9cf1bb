// pino JSON logs. The operator never logs a token or secret data; as a second line of defence,
// fields that could carry one are redacted by name at every level.
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

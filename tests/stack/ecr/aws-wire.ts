// The AWS side of the wire: who signed a request (read from its SigV4 Authorization header,
// never verified), and answers in the AWS JSON 1.1 protocol.
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface CredentialScope {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
}

/** `AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/ecr/aws4_request, SignedHeaders=…, Signature=…` */
export function credentialScope(authorization: string | undefined): CredentialScope | undefined {
  const match = /Credential=([^/,\s]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request/.exec(authorization ?? '');
  return match ? { accessKeyId: match[1]!, date: match[2]!, region: match[3]!, service: match[4]! } : undefined;
}

export const AWS_JSON = 'application/x-amz-json-1.1';

export function sendAwsJson(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'Content-Type': AWS_JSON, 'Content-Length': Buffer.byteLength(text), 'x-amzn-RequestId': crypto.randomUUID() });
  res.end(text);
}

export function sendAwsError(res: ServerResponse, status: number, type: string, message: string): void {
  const text = JSON.stringify({ __type: type, message });
  res.writeHead(status, {
    'Content-Type': AWS_JSON,
    'Content-Length': Buffer.byteLength(text),
    'x-amzn-ErrorType': type,
    'x-amzn-RequestId': crypto.randomUUID(),
  });
  res.end(text);
}

export async function readBody(req: IncomingMessage, limit = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error(`request body over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

// GetAuthorizationToken, for ECR and ECR Public: a new token per call, bound to the caller's
// principal and the region its request was signed for. The two are told apart by X-Amz-Target and
// by the service the request was signed for, as AWS checks it (ecr, ecr-public).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { credentialScope, readBody, sendAwsError, sendAwsJson } from './aws-wire.ts';
import { arnAccount, type PrincipalResolver } from './identity.ts';
import type { CallRecord, EmulatorState } from './state.ts';
import type { TokenKind } from './tokens.ts';

export const TOKEN_TARGETS: Record<string, TokenKind> = {
  'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken': 'ecr',
  'SpencerFrontendService.GetAuthorizationToken': 'ecr-public',
};

/** ECR Public's API lives in us-east-1 only. */
const PUBLIC_REGION = 'us-east-1';

/** The SigV4 signing name of each API. */
const SIGNING_NAMES: Record<TokenKind, string> = { ecr: 'ecr', 'ecr-public': 'ecr-public' };

/**
 * The IAM actions each call needs of the caller. ECR Public also checks, server-side, that the
 * caller may get a service bearer token from STS; the SDK makes no STS call for it.
 */
export const REQUIRED_ACTIONS: Record<TokenKind, readonly string[]> = {
  ecr: ['ecr:GetAuthorizationToken'],
  'ecr-public': ['ecr-public:GetAuthorizationToken', 'sts:GetServiceBearerToken'],
};

export async function handleTokenCall(req: IncomingMessage, res: ServerResponse, kind: TokenKind, state: EmulatorState, resolver: Pick<PrincipalResolver, 'resolve'>): Promise<void> {
  const api: CallRecord['api'] = kind === 'ecr' ? 'GetAuthorizationToken' : 'ecr-public:GetAuthorizationToken';
  const call: CallRecord = { at: Date.now(), api, result: 'success' };
  const fail = (status: number, type: string, message: string) => {
    call.result = type;
    state.record(state.calls, call);
    sendAwsError(res, status, type, message);
  };
  let input: { registryIds?: unknown };
  try {
    const body = await readBody(req);
    input = body.trim() ? (JSON.parse(body) as { registryIds?: unknown }) : {};
  } catch {
    return fail(400, 'SerializationException', 'Could not parse the request body as JSON');
  }
  const scope = credentialScope(req.headers.authorization);
  if (!scope) return fail(400, 'MissingAuthenticationTokenException', 'Request is missing Authentication Token');
  call.accessKeyId = scope.accessKeyId;
  call.region = scope.region;
  call.signingName = scope.service;
  if (scope.service !== SIGNING_NAMES[kind]) {
    return fail(400, 'InvalidSignatureException', `Credential should be scoped to correct service: '${SIGNING_NAMES[kind]}'. `);
  }
  if (kind === 'ecr-public' && scope.region !== PUBLIC_REGION) {
    return fail(400, 'InvalidSignatureException', 'Credential should be scoped to a valid region. ');
  }
  let principal: string;
  try {
    principal = await resolver.resolve(scope.accessKeyId);
  } catch (error) {
    return fail(500, 'ServerException', `could not resolve the caller's identity: ${(error as Error).message}`);
  }
  call.principal = principal;
  if (state.isThrottled()) return fail(400, 'ThrottlingException', 'Rate exceeded');
  const denied = state.deniedAction(principal, REQUIRED_ACTIONS[kind]);
  if (denied) {
    return fail(400, 'AccessDeniedException', `User: ${principal} is not authorized to perform: ${denied} on resource: * because no identity-based policy allows the ${denied} action`);
  }
  const { password, record } = state.tokens.mint(principal, scope.region, kind, state.ttlSeconds);
  state.changed();
  call.token = password;
  call.expiresAt = record.expiresAt;
  state.record(state.calls, call);
  const authorizationToken = Buffer.from(`AWS:${password}`).toString('base64');
  // ECR sends expiresAt as epoch seconds, a JSON number.
  const expiresAt = record.expiresAt / 1000;
  if (kind === 'ecr-public') return sendAwsJson(res, { authorizationData: { authorizationToken, expiresAt } });
  const ids = Array.isArray(input.registryIds) && input.registryIds.length > 0 ? input.registryIds.map(String) : [arnAccount(principal)];
  sendAwsJson(res, {
    authorizationData: ids.map((id) => ({ authorizationToken, expiresAt, proxyEndpoint: `https://${id}.dkr.ecr.${scope.region}.amazonaws.com` })),
  });
}

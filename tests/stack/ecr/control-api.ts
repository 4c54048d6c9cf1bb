// The emulator's control API for tests, under a path AWS never uses (/_stack/ecr/...). JSON in
// and out. tests/stack/ecr/control.ts is its typed client.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from './aws-wire.ts';
import { parsePolicy, PolicyError } from './policy.ts';
import { CONTROL_PREFIX, type EcrRegistry, registryKey } from './registries.ts';
import type { EmulatorState } from './state.ts';
import type { TokenFilter } from './tokens.ts';

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body ?? null);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const tokenFilter = (body: Record<string, unknown>): TokenFilter => ({
  ...(typeof body.principal === 'string' ? { principal: body.principal } : {}),
  ...(typeof body.token === 'string' ? { token: body.token } : {}),
});

export async function handleControl(req: IncomingMessage, res: ServerResponse, state: EmulatorState, registries: EcrRegistry[]): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://control');
  const route = `${req.method} ${url.pathname.slice(CONTROL_PREFIX.length) || '/'}`;
  const since = Number(url.searchParams.get('since') ?? 0);
  try {
    const text = await readBody(req);
    const body = (text.trim() ? JSON.parse(text) : {}) as Record<string, unknown>;
    const policyRoute = /^(GET|PUT|DELETE) \/registries\/(\d{12})\/([a-z0-9-]+)\/policy$/.exec(route);
    if (policyRoute) {
      const registry = registries.find((r) => r.account === policyRoute[2] && r.region === policyRoute[3]);
      if (!registry) throw new HttpError(404, `no registry for ${policyRoute[2]} in ${policyRoute[3]}`);
      if (policyRoute[1] === 'PUT') state.setPolicy(registry, parsePolicy(body));
      if (policyRoute[1] === 'DELETE') state.setPolicy(registry, undefined);
      return send(res, 200, { policy: state.policy(registry) ?? null });
    }
    switch (route) {
      case 'GET /health':
        return send(res, 200, { ok: true });
      case 'GET /registries':
        return send(res, 200, registries.map((r) => ({ ...r, key: registryKey(r) })));
      case 'GET /calls':
        return send(res, 200, state.calls.filter((c) => c.at >= since));
      case 'DELETE /calls':
        state.calls.length = 0;
        return send(res, 200, {});
      case 'GET /registry-requests': {
        const registry = url.searchParams.get('registry');
        return send(res, 200, state.registryRequests.filter((r) => r.at >= since && (!registry || r.registry === registry)));
      }
      case 'DELETE /registry-requests':
        state.registryRequests.length = 0;
        return send(res, 200, {});
      case 'POST /tokens/lookup': {
        const info = typeof body.token === 'string' ? state.tokens.lookup(body.token) : undefined;
        return info ? send(res, 200, info) : send(res, 404, { message: 'the emulator never minted this token' });
      }
      case 'POST /tokens/expire': {
        const count = state.tokens.expire(tokenFilter(body));
        state.changed();
        return send(res, 200, { count });
      }
      case 'POST /tokens/revoke': {
        const count = state.tokens.revoke(tokenFilter(body));
        state.changed();
        return send(res, 200, { count });
      }
      case 'GET /denied':
        return send(res, 200, state.denied);
      case 'POST /denied':
      case 'DELETE /denied': {
        const { principal, action } = body;
        if (typeof principal !== 'string') throw new HttpError(400, 'principal (an ARN or a pattern) is required');
        if (action !== undefined && typeof action !== 'string') throw new HttpError(400, 'action, if given, must be an IAM action such as sts:GetServiceBearerToken');
        // The entry itself goes (a POST adds it back once); a DELETE without an action takes every denial of the principal.
        const everyAction = route.startsWith('DELETE') && action === undefined;
        const kept = state.denied.filter((d) => d.principal !== principal || (!everyAction && d.action !== action));
        state.denied.splice(0, state.denied.length, ...kept);
        if (route.startsWith('POST')) state.denied.push({ principal, ...(action !== undefined ? { action } : {}) });
        return send(res, 200, state.denied);
      }
      case 'PUT /throttle': {
        const seconds = typeof body.seconds === 'number' ? body.seconds : undefined;
        state.throttledUntil = body.on !== true ? 0 : seconds !== undefined ? Date.now() + seconds * 1000 : Infinity;
        return send(res, 200, { throttled: state.isThrottled(), until: Number.isFinite(state.throttledUntil) ? state.throttledUntil : null });
      }
      case 'GET /ttl':
        return send(res, 200, { seconds: state.ttlSeconds });
      case 'PUT /ttl':
        if (typeof body.seconds !== 'number' || !(body.seconds > 0)) throw new HttpError(400, 'seconds must be a positive number');
        state.ttlSeconds = body.seconds;
        return send(res, 200, { seconds: state.ttlSeconds });
      default:
        throw new HttpError(404, `no such control route: ${route}`);
    }
  } catch (error) {
    const status = error instanceof HttpError ? error.status : error instanceof PolicyError || error instanceof SyntaxError ? 400 : 500;
    send(res, status, { message: (error as Error).message });
  }
}

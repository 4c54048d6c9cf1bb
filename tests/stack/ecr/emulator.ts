// The stack's ECR: one process, serving the AWS endpoint (GetAuthorizationToken for ECR and ECR
// Public; everything else, STS above all, passed to moto unchanged), the control API for
// tests, one auth front per registry, ECR Public's (public.ecr.aws) on a port of its own, and a
// stand-in for the EKS Pod Identity agent.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { sendAwsError } from './aws-wire.ts';
import { handleControl } from './control-api.ts';
import { handleTokenCall, TOKEN_TARGETS } from './ecr-api.ts';
import { PrincipalResolver } from './identity.ts';
import { createPodIdentityAgent, type PodIdentityAgentConfig } from './pod-identity-agent.ts';
import type { PolicyDocument } from './policy.ts';
import { proxyRequest } from './proxy.ts';
import { createRegistryFront, type FrontConfig } from './registry-front.ts';
import { createPublicRegistryFront, type PublicFrontConfig } from './registry-public-front.ts';
import { CONTROL_PREFIX } from './registries.ts';
import { EmulatorState } from './state.ts';

export interface EmulatorConfig {
  /** The AWS endpoint's port (AWS_ENDPOINT_URL), on 127.0.0.1. */
  port: number;
  /** moto, which only the emulator talks to. */
  motoUrl: string;
  /** Where tokens and policies are kept across restarts. */
  stateFile: string;
  ttlSeconds: number;
  registries: Array<FrontConfig & { defaultPolicy: PolicyDocument }>;
  podIdentity?: PodIdentityAgentConfig;
  /** ECR Public's front; absent in a config written before it existed. */
  publicRegistry?: PublicFrontConfig;
}

export interface Emulator {
  state: EmulatorState;
  close(): Promise<void>;
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export async function startEmulator(config: EmulatorConfig): Promise<Emulator> {
  const state = new EmulatorState(config.stateFile, config.ttlSeconds, config.registries.map((r) => [r, r.defaultPolicy]));
  const resolver = new PrincipalResolver(config.motoUrl);
  const moto = new URL(config.motoUrl);
  const registries = config.registries.map(({ account, region, port }) => ({ account, region, host: `127.0.0.1:${port}` }));

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if ((req.url ?? '').startsWith(`${CONTROL_PREFIX}/`)) return handleControl(req, res, state, registries);
    const kind = TOKEN_TARGETS[String(req.headers['x-amz-target'] ?? '')];
    if (req.method === 'POST' && kind) return handleTokenCall(req, res, kind, state, resolver);
    proxyRequest(req, res, { host: moto.hostname, port: Number(moto.port) });
  };
  const api = createServer((req, res) => {
    handle(req, res).catch((error: Error) => {
      if (!res.headersSent) sendAwsError(res, 500, 'ServerException', error.message);
      else res.destroy(error);
    });
  });
  const fronts: Array<[Server, number]> = config.registries.map((r) => [createRegistryFront(r, state), r.port]);
  if (config.publicRegistry) fronts.push([createPublicRegistryFront(config.publicRegistry, state), config.publicRegistry.port]);
  const servers = [api, ...fronts.map(([server]) => server)];
  await listen(api, config.port);
  for (const [server, port] of fronts) await listen(server, port);
  if (config.podIdentity) {
    const agent = createPodIdentityAgent(config.podIdentity, config.motoUrl).server;
    servers.push(agent);
    await listen(agent, config.podIdentity.port);
  }

  return {
    state,
    close: async () => {
      state.save();
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  };
}

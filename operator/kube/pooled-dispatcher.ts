// @kubernetes/client-node 2.0.1 builds a new undici Agent for every request, so every API call
// pays a TLS handshake and keeps no connection alive. Measured on the local stack: 1000 creates at
// 16 in flight took 4.35 s instead of 1.5 s, and a 2,100-write burst allocated 388 MiB instead of
// 250 MiB. This keeps one dispatcher per distinct TLS configuration (client certs rotate into a new
// one); bearer tokens travel as request headers and are unaffected.
import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';

type CreateDispatcher = (cluster: unknown, agentOptions: unknown) => unknown;
const MAX_POOLED = 4;

export function poolDispatchers(kubeConfig: KubeConfig): KubeConfig {
  const target = kubeConfig as unknown as { createDispatcher?: CreateDispatcher; createDispatcherOptions?: (c: unknown, a: unknown) => unknown };
  const original = target.createDispatcher;
  if (typeof original !== 'function' || typeof target.createDispatcherOptions !== 'function') return kubeConfig;
  const pool = new Map<string, unknown>();
  target.createDispatcher = function pooled(cluster: unknown, agentOptions: unknown): unknown {
    const options = target.createDispatcherOptions!.call(kubeConfig, cluster, agentOptions);
    const key = createHash('sha256').update(JSON.stringify(options) ?? '').digest('hex');
    if (pool.has(key)) return pool.get(key);
    const dispatcher = original.call(kubeConfig, cluster, agentOptions);
    if (dispatcher === undefined) return undefined;
    if (pool.size >= MAX_POOLED) {
      const [oldest] = pool.keys();
      const stale = pool.get(oldest!) as { close?: () => Promise<void> } | undefined;
      pool.delete(oldest!);
      void stale?.close?.().catch(() => {});
    }
    pool.set(key, dispatcher);
    return dispatcher;
  };
  return kubeConfig;
}

// /metrics and the probes listen dual-stack: with a bind address without a host (":8080", the
// default) they answer on IPv6 as well as IPv4, so IPv6-only clusters (EKS IPv6) can scrape and
// probe them. Before, ":8080" bound 0.0.0.0 only. Traffic goes to loopback only.
import { httpGet, installCrds, kube, startOperator } from './support.ts';

const { kc } = kube();
beforeAll(() => installCrds(kc));

it('answers /metrics and the probes on [::1] and 127.0.0.1 when the bind addresses have no host', async () => {
  // startOperator passes 127.0.0.1:0 first; the later flag wins.
  const operator = await startOperator(['--metrics-bind-address=:0', '--health-probe-bind-address=:0']);
  try {
    const [metrics, probes] = [await operator.metricsPort(), await operator.probePort()];
    for (const host of ['[::1]', '127.0.0.1']) {
      const scraped = await httpGet(`http://${host}:${metrics}/metrics`);
      expect(scraped.status).toBe(200);
      expect(scraped.body).toContain('ecrsync_');
      expect(await httpGet(`http://${host}:${probes}/healthz`)).toEqual({ status: 200, body: 'ok' });
    }
  } finally {
    expect(await operator.stop()).toBe(0);
  }
});

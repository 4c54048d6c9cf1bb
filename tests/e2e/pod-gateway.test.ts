// The stack's pod gateway (tests/stack/node/pod-gateway.ts): what it puts on the host, that `up`
// puts back what went missing, and that taking it away leaves nothing of it.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { up } from '../stack/stack.ts';
import { nodeNetwork } from '../stack/node/network.ts';
import { podGateway, removeGatewayNetwork, routedOnBridge } from '../stack/node/pod-gateway.ts';
import { describeOnNode } from './on-node.ts';
import { stackEnv } from './support.ts';

const dir = () => stackEnv('STACK_DIR');
const gateway = () => podGateway(dir(), Number(new URL(stackEnv('AWS_ENDPOINT_URL')).port));
const rules = () =>
  execFileSync('iptables', ['-w', '-S'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(` ${nodeNetwork(dir()).bridge} `));
const netnsList = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
const quiet = () => {};

describeOnNode('pod-gateway.test.ts')('the pod gateway', () => {
  it('holds its namespace and veth on the bridge, two firewall rules, and the host address pods are probed from', () => {
    const gw = gateway();
    expect(netnsList()).toContain(gw.netns);
    expect(existsSync(`/sys/class/net/${gw.veth}`)).toBe(true);
    expect(rules().sort()).toEqual(
      [
        `-A FORWARD -i ${nodeNetwork(dir()).bridge} ! -o ${nodeNetwork(dir()).bridge} -j DROP`,
        `-A INPUT -i ${nodeNetwork(dir()).bridge} -m conntrack ! --ctstate RELATED,ESTABLISHED -j DROP`,
      ].sort(),
    );
    expect(routedOnBridge(dir(), gw.address)).toBe(true);
  });

  it('is put back by up when a rule and the host address went missing', async () => {
    const gw = gateway();
    const bridge = nodeNetwork(dir()).bridge;
    execFileSync('iptables', ['-w', '-D', 'FORWARD', '-i', bridge, '!', '-o', bridge, '-j', 'DROP']);
    execFileSync('ip', ['addr', 'del', `${gw.hostAddress}/24`, 'dev', bridge]);
    expect(routedOnBridge(dir(), gw.address)).toBe(false);
    await up({ dir: dir(), log: quiet });
    expect(rules()).toHaveLength(2);
    expect(routedOnBridge(dir(), gw.address)).toBe(true);
  }, 60_000);

  it('taken away leaves no namespace, veth or rule, and up makes it anew', async () => {
    const gw = gateway();
    removeGatewayNetwork(dir());
    expect(netnsList()).not.toContain(gw.netns);
    expect(existsSync(`/sys/class/net/${gw.veth}`)).toBe(false);
    expect(rules()).toEqual([]);
    await up({ dir: dir(), log: quiet });
    expect(netnsList()).toContain(gw.netns);
    expect(rules()).toHaveLength(2);
  }, 90_000);
});

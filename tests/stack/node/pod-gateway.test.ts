import { describe, expect, it } from '@jest/globals';
import { gatewayAddresses } from './pod-gateway.ts';

describe('the pod gateway', () => {
  it.each([
    ['takes .254 of the node subnet, gives the host .1 and ends pod addresses at .250', '10.244.77.0/24', { address: '10.244.77.254', hostAddress: '10.244.77.1', rangeEnd: '10.244.77.250' }],
    ['works for the first subnet of the range', '10.244.0.0/24', { address: '10.244.0.254', hostAddress: '10.244.0.1', rangeEnd: '10.244.0.250' }],
  ])('%s', (_name, subnet, expected) => {
    expect(gatewayAddresses(subnet)).toEqual(expected);
  });

  it('refuses a subnet that is not a /24', () => {
    expect(() => gatewayAddresses('10.244.0.0/16')).toThrow('not a /24: 10.244.0.0/16');
  });
});

import { describe, expect, it } from '@jest/globals';
import { overlaps } from './network.ts';
import { gatewayAddresses } from './pod-gateway.ts';

describe('the pod gateway', () => {
  it.each([
    ['takes .254 of the node subnet, gives the host .1 and pods .2 to .250', '10.244.77.0/24', { address: '10.244.77.254', hostAddress: '10.244.77.1', rangeStart: '10.244.77.2', rangeEnd: '10.244.77.250' }],
    ['works for the first subnet of the range', '10.244.0.0/24', { address: '10.244.0.254', hostAddress: '10.244.0.1', rangeStart: '10.244.0.2', rangeEnd: '10.244.0.250' }],
  ])('%s', (_name, subnet, expected) => {
    expect(gatewayAddresses(subnet)).toEqual(expected);
  });

  it('refuses a subnet that is not a /24', () => {
    expect(() => gatewayAddresses('10.244.0.0/16')).toThrow('not a /24: 10.244.0.0/16');
  });
});

describe('choosing the node subnet', () => {
  it.each([
    ['a /24 inside a /16 route overlaps it', '10.244.0.0/16', '10.244.3.0/24', true],
    ['a host route inside the /24 overlaps it', '10.244.3.7/32', '10.244.3.0/24', true],
    ['the next /24 does not', '10.244.4.0/24', '10.244.3.0/24', false],
    ['another private range does not', '192.168.0.0/16', '10.244.3.0/24', false],
    ['a /8 covering it does', '10.0.0.0/8', '10.244.3.0/24', true],
  ])('%s', (_name, route, subnet, expected) => {
    expect(overlaps(route, subnet)).toBe(expected);
  });
});

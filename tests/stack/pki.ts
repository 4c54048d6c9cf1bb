// Per-stack PKI made with openssl: one CA, a serving cert for 127.0.0.1/localhost and the `kubernetes` Service,
// an admin client cert in system:masters, the service-account signing key pair, and the
// node's certs: the kubelet's client (system:node:localhost) and serving certs, and the
// API server's client cert for reaching the kubelet.
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KUBERNETES_SERVICE_IP } from './cluster-network.ts';
import { runOk } from './run.ts';

/** The stack's one node; the API server reaches its kubelet by this name, which resolves to 127.0.0.1. */
export const NODE_NAME = 'localhost';
/** The API server's user at the kubelet: RBAC grants it system:kubelet-api-admin, nothing more. */
export const KUBELET_CLIENT_USER = 'kube-apiserver-kubelet-client';

export interface Pki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
  nodeCert: string;
  nodeKey: string;
  kubeletServingCert: string;
  kubeletServingKey: string;
  kubeletClientCert: string;
  kubeletClientKey: string;
}

export function pkiPaths(dir: string): Pki {
  const p = (name: string) => join(dir, 'pki', name);
  return {
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    servingCert: p('serving.crt'),
    servingKey: p('serving.key'),
    adminCert: p('admin.crt'),
    adminKey: p('admin.key'),
    saKey: p('sa.key'),
    saPub: p('sa.pub'),
    nodeCert: p('node.crt'),
    nodeKey: p('node.key'),
    kubeletServingCert: p('kubelet-serving.crt'),
    kubeletServingKey: p('kubelet-serving.key'),
    kubeletClientCert: p('kubelet-client.crt'),
    kubeletClientKey: p('kubelet-client.key'),
  };
}

async function ecKey(path: string): Promise<void> {
  await runOk('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}

async function signed(pki: Pki, name: string, subject: string, extensions: string): Promise<void> {
  const dir = join(pki.caCert, '..');
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await ecKey(key);
  await runOk('openssl', ['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
  writeFileSync(ext, extensions);
  await runOk('openssl', [
    'x509', '-req', '-in', csr, '-CA', pki.caCert, '-CAkey', pki.caKey, '-CAcreateserial',
    '-days', '365', '-sha256', '-extfile', ext, '-out', join(dir, `${name}.crt`),
  ]);
}

const servingExtensions = [
  'basicConstraints=CA:FALSE',
  'keyUsage=critical,digitalSignature,keyEncipherment',
  'extendedKeyUsage=serverAuth',
  `subjectAltName=IP:127.0.0.1,IP:${KUBERNETES_SERVICE_IP},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc`,
  '',
].join('\n');

export async function ensurePki(dir: string): Promise<Pki> {
  const pki = pkiPaths(dir);
  if (Object.values(pki).every((file) => existsSync(file))) {
    // A stack made before pods reached the API server at the Service address: the API server reloads the file.
    const san = new X509Certificate(readFileSync(pki.servingCert)).subjectAltName ?? '';
    if (!san.includes(`IP Address:${KUBERNETES_SERVICE_IP}`)) await signed(pki, 'serving', '/CN=kube-apiserver', servingExtensions);
    return pki;
  }
  mkdirSync(join(dir, 'pki'), { recursive: true });
  await ecKey(pki.caKey);
  await runOk('openssl', [
    'req', '-x509', '-new', '-key', pki.caKey, '-subj', '/CN=ecr-credential-sync-stack-ca',
    '-days', '365', '-sha256', '-out', pki.caCert,
  ]);
  await signed(
    pki,
    'serving',
    '/CN=kube-apiserver',
    servingExtensions,
  );
  const client = ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=clientAuth', ''].join('\n');
  await signed(pki, 'admin', '/O=system:masters/CN=stack-admin', client);
  // The node authorizer knows a kubelet by this name and group.
  await signed(pki, 'node', `/O=system:nodes/CN=system:node:${NODE_NAME}`, client);
  await signed(pki, 'kubelet-client', `/CN=${KUBELET_CLIENT_USER}`, client);
  await signed(
    pki,
    'kubelet-serving',
    `/CN=${NODE_NAME}`,
    ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth', 'subjectAltName=DNS:localhost,IP:127.0.0.1', ''].join('\n'),
  );
  await ecKey(pki.saKey);
  await runOk('openssl', ['pkey', '-in', pki.saKey, '-pubout', '-out', pki.saPub]);
  return pki;
}

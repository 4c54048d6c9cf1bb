// The stack's components: how each starts, and how to tell it is healthy.
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { ecrComponents, type EcrPorts } from './ecr/components.ts';
import { nodeComponents } from './node/node.ts';
import { SERVICE_CIDR } from './cluster-network.ts';
import type { NodePorts } from './node/config.ts';
import type { Pki } from './pki.ts';

export interface Ports extends EcrPorts {
  etcd: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
  scheduler: number;
  /** moto's own port: only the ECR emulator talks to it (AWS_ENDPOINT_URL is the emulator). */
  moto: number;
}

export interface Layout {
  dir: string;
  binDir: string;
  ports: Ports;
  pki: Pki;
  /** Present when the stack runs a node (containerd + kubelet). */
  nodePorts?: NodePorts;
}

export interface Component {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Seconds to wait for health after a start. */
  startTimeout: number;
  healthy(): Promise<boolean>;
  /** Before a start: write what the process reads. */
  prepare?(): void;
  /** After it is healthy, on every `up`: work that needs it running (idempotent). */
  ready?(): Promise<void>;
}

export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export function httpStatus(url: string, tls?: { ca?: string; cert?: string; key?: string; insecure?: boolean }): Promise<number> {
  return new Promise((resolve, reject) => {
    const options = {
      timeout: 2000,
      ...(tls
        ? {
            ca: tls.ca ? readFileSync(tls.ca) : undefined,
            cert: tls.cert ? readFileSync(tls.cert) : undefined,
            key: tls.key ? readFileSync(tls.key) : undefined,
            rejectUnauthorized: !tls.insecure,
          }
        : {}),
    };
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, options, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

export function components(layout: Layout): Component[] {
  const { dir, binDir, ports, pki } = layout;
  const bin = (name: string) => join(binDir, name);
  const kubeconfig = join(dir, 'kubeconfig');
  const adminTls = { ca: pki.caCert, cert: pki.adminCert, key: pki.adminKey };
  return [
    {
      name: 'etcd',
      command: bin('etcd'),
      args: [
        '--name=stack',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${ports.etcd}`,
        `--advertise-client-urls=http://127.0.0.1:${ports.etcd}`,
        `--listen-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
        `--initial-cluster=stack=http://127.0.0.1:${ports.etcdPeer}`,
        '--listen-metrics-urls=',
        // A throwaway test store: durability is not worth an fsync per write here.
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      startTimeout: 30,
      healthy: async () => (await httpStatus(`http://127.0.0.1:${ports.etcd}/health`)) === 200,
    },
    {
      name: 'kube-apiserver',
      command: bin('kube-apiserver'),
      args: [
        `--etcd-servers=http://127.0.0.1:${ports.etcd}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${ports.apiserver}`,
        `--cert-dir=${join(dir, 'apiserver')}`,
        `--tls-cert-file=${pki.servingCert}`,
        `--tls-private-key-file=${pki.servingKey}`,
        `--client-ca-file=${pki.caCert}`,
        `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
        `--service-account-key-file=${pki.saPub}`,
        `--service-account-signing-key-file=${pki.saKey}`,
        `--api-audiences=${SERVICE_ACCOUNT_ISSUER}`,
        // Node: the kubelet reads only the secrets of pods bound to it, as on a real cluster.
        '--authorization-mode=Node,RBAC',
        '--enable-admission-plugins=NodeRestriction',
        `--kubelet-client-certificate=${pki.kubeletClientCert}`,
        `--kubelet-client-key=${pki.kubeletClientKey}`,
        `--kubelet-certificate-authority=${pki.caCert}`,
        // The node's only other address is the VM's own, which the stack never talks to.
        '--kubelet-preferred-address-types=Hostname',
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        // The endpoint reconciler would publish 127.0.0.1, which Endpoints validation refuses.
        '--endpoint-reconciler-type=none',
        '--profiling=false',
        // Every write, with who made it: tests use it to prove who wrote what, and when.
        `--audit-policy-file=${join(dir, 'audit-policy.yaml')}`,
        `--audit-log-path=${join(dir, 'logs', 'audit.log')}`,
        '--audit-log-format=json',
        '--audit-log-maxsize=200',
        '--v=1',
      ],
      startTimeout: 90,
      healthy: async () => (await httpStatus(`https://127.0.0.1:${ports.apiserver}/readyz`, adminTls)) === 200,
    },
    {
      name: 'kube-controller-manager',
      command: bin('kube-controller-manager'),
      args: [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${ports.controllerManager}`,
        `--cert-dir=${join(dir, 'controller-manager')}`,
        // Deployments, their ReplicaSets and PodDisruptionBudgets: the operator's own Deployment runs on the node.
        '--controllers=namespace-controller,garbage-collector-controller,serviceaccount-controller,root-ca-certificate-publisher-controller,node-lifecycle-controller,clusterrole-aggregation-controller,deployment-controller,replicaset-controller,disruption-controller',
        `--root-ca-file=${pki.caCert}`,
        '--leader-elect=false',
        '--v=1',
      ],
      startTimeout: 60,
      healthy: async () =>
        (await httpStatus(`https://127.0.0.1:${ports.controllerManager}/healthz`, { insecure: true })) === 200,
    },
    {
      name: 'kube-scheduler',
      command: bin('kube-scheduler'),
      args: [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${ports.scheduler}`,
        '--leader-elect=false',
        '--v=1',
      ],
      startTimeout: 60,
      healthy: async () => (await httpStatus(`https://127.0.0.1:${ports.scheduler}/healthz`, { insecure: true })) === 200,
    },
    {
      name: 'moto',
      command: 'moto_server',
      args: ['-H', '127.0.0.1', '-p', String(ports.moto)],
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
      startTimeout: 60,
      healthy: async () => (await httpStatus(`http://127.0.0.1:${ports.moto}/moto-api/data.json`)) === 200,
    },
    ...ecrComponents(layout),
    ...(layout.nodePorts ? nodeComponents({ dir, pki, ports: layout.nodePorts, apiserverPort: ports.apiserver, awsPort: ports.ecr }, binDir) : []),
  ];
}

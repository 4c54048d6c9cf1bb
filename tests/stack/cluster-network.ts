// The API server's Service range, and the `kubernetes` Service's address in it (its first): in the
// serving certificate, and where pods on the node reach the API server (node/pod-gateway.ts).
export const SERVICE_CIDR = '10.0.0.0/24';
export const KUBERNETES_SERVICE_IP = '10.0.0.1';

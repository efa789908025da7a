// HAProxy in front of the lab's replicas: its config, and its admin socket for what its health checks decided.
import { createConnection } from 'node:net';

export interface BalancerOptions {
  /** Unix socket the balancer serves clients on (the test process sits outside the lab's network). */
  socket: string;
  /** Unix socket of HAProxy's runtime API. */
  adminSocket: string;
  servers: { name: string; address: string }[];
}

/**
 * Round robin with an HTTP health check on /readyz every 200 ms (down after 2 failures, up after 2 passes),
 * which is well inside Serval's shutdown delay, so a draining replica is out before it stops accepting.
 * Layer-7 retries on another server cover a connection that fails before any response (a killed replica).
 * `X-Served-By` names the server that answered, so that the test can see which replica held what.
 */
export function haproxyConfig({ socket, adminSocket, servers }: BalancerOptions): string {
  return [
    'global',
    '  maxconn 2048',
    `  stats socket ${adminSocket} mode 600 level admin`,
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  timeout http-keep-alive 10s',
    '  option http-buffer-request',
    '  retries 2',
    '  option redispatch 1',
    '  retry-on conn-failure empty-response response-timeout',
    'frontend serval_in',
    `  bind unix@${socket} mode 666`,
    '  default_backend serval',
    'backend serval',
    '  balance roundrobin',
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    '  default-server check inter 200ms fall 2 rise 2',
    '  http-response set-header X-Served-By %[srv_name]',
    ...servers.map((s) => `  server ${s.name} ${s.address}`),
    '',
  ].join('\n');
}

/** One command on HAProxy's runtime API, e.g. `show stat`. */
export function haproxyCommand(adminSocket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(adminSocket);
    let out = '';
    conn.on('data', (chunk: Buffer) => (out += chunk.toString()));
    conn.on('end', () => resolve(out));
    conn.on('error', reject);
    conn.end(`${command}\n`);
  });
}

/** Each server's state as the health checks see it: UP, DOWN, MAINT, or a transition such as "UP 1/2". */
export async function serverStates(adminSocket: string): Promise<Record<string, string>> {
  const csv = await haproxyCommand(adminSocket, 'show stat');
  const [header, ...rows] = csv.replace(/^# /, '').trim().split('\n');
  const columns = (header ?? '').split(',');
  const [px, sv, status] = ['pxname', 'svname', 'status'].map((c) => columns.indexOf(c)) as [
    number,
    number,
    number,
  ];
  const states: Record<string, string> = {};
  for (const row of rows) {
    const cells = row.split(',');
    const name = cells[sv];
    if (cells[px] === 'serval' && name !== undefined && name !== 'BACKEND')
      states[name] = cells[status] ?? '';
  }
  return states;
}

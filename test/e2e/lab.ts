// A lab of "hosts" on this one machine: Linux network namespaces on one bridge, made and torn down by the test.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Host {
  /** Short name: r1, redis, lb. */
  name: string;
  /** Its address on the lab's /24. */
  ip: string;
}

export interface Spawned {
  child: ChildProcess;
  /** stdout and stderr so far. */
  output: () => string;
  /** Resolves with the exit code (or the signal's name) once the process is gone. */
  exited: Promise<number | string>;
}

/** Why this machine cannot make a lab (not root, no `ip`, namespaces refused), or undefined when it can. */
export async function labUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces are Linux only (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'creating network namespaces needs root';
  const probe = `svprobe${process.pid}`;
  try {
    await run('ip', ['netns', 'add', probe]);
  } catch (err) {
    return `\`ip netns add\` failed: ${(err as Error).message.split('\n')[0] ?? ''}`;
  }
  try {
    await run('ip', ['-n', probe, 'link', 'add', 'a0', 'type', 'veth', 'peer', 'name', 'b0']);
  } catch (err) {
    return `veth pairs are refused: ${(err as Error).message.split('\n')[0] ?? ''}`;
  } finally {
    await run('ip', ['netns', 'del', probe]).catch(() => undefined);
  }
  return undefined;
}

/**
 * Namespaces named <prefix>-<host>, each with an eth0 whose veth peer sits on a bridge in a switch namespace of
 * its own: the machine's own namespace and interfaces are never touched, and no packet can leave the lab.
 */
export class Lab {
  readonly #prefix: string;
  readonly #hosts = new Map<string, Host>();
  readonly #children = new Set<ChildProcess>();
  readonly #onExit = () => this.#destroySync();

  private constructor(prefix: string) {
    this.#prefix = prefix;
    process.once('exit', this.#onExit); // a crashed test still removes its namespaces
  }

  static async create(prefix: string, hosts: Host[]): Promise<Lab> {
    const lab = new Lab(prefix);
    try {
      const sw = lab.#ns('sw');
      await run('ip', ['netns', 'add', sw]);
      await ip(sw, 'link', 'add', 'br0', 'type', 'bridge');
      await ip(sw, 'link', 'set', 'br0', 'up');
      for (const host of hosts) await lab.#addHost(host);
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  #ns(name: string): string {
    return `${this.#prefix}-${name}`;
  }

  async #addHost(host: Host): Promise<void> {
    const ns = this.#ns(host.name);
    const sw = this.#ns('sw');
    this.#hosts.set(host.name, host);
    await run('ip', ['netns', 'add', ns]);
    await ip(sw, 'link', 'add', `v-${host.name}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await ip(sw, 'link', 'set', `v-${host.name}`, 'master', 'br0', 'up');
    await ip(ns, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0');
    await ip(ns, 'link', 'set', 'eth0', 'up');
    await ip(ns, 'link', 'set', 'lo', 'up');
  }

  /** Starts a program inside a host's namespace; `ip netns exec` execs it, so the pid is the program's own. */
  spawn(host: string, command: string, args: string[], env: Record<string, string> = {}): Spawned {
    if (!this.#hosts.has(host)) throw new Error(`no host ${host} in the lab`);
    const child = spawn('ip', ['netns', 'exec', this.#ns(host), command, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#children.add(child);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | string>((resolve) =>
      child.once('exit', (code, signal) => {
        this.#children.delete(child);
        resolve(code ?? signal ?? 'unknown');
      }),
    );
    return { child, output: () => out, exited };
  }

  /** Takes a host's link down (its peer on the bridge too): packets to it vanish, as on a cut cable. */
  async linkDown(host: string): Promise<void> {
    await ip(this.#ns(host), 'link', 'set', 'eth0', 'down');
    await ip(this.#ns('sw'), 'link', 'set', `v-${host}`, 'down');
  }

  async linkUp(host: string): Promise<void> {
    await ip(this.#ns('sw'), 'link', 'set', `v-${host}`, 'up');
    await ip(this.#ns(host), 'link', 'set', 'eth0', 'up');
  }

  /** Kills every process still running in the lab, then deletes its namespaces (and with them the veth pairs). */
  async destroy(): Promise<void> {
    const exits = [...this.#children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    );
    await Promise.all(exits);
    for (const name of [...this.#hosts.keys(), 'sw']) {
      await run('ip', ['netns', 'del', this.#ns(name)]).catch(() => undefined);
    }
    this.#hosts.clear();
    process.off('exit', this.#onExit);
  }

  #destroySync(): void {
    for (const child of this.#children) child.kill('SIGKILL');
    for (const name of [...this.#hosts.keys(), 'sw']) {
      try {
        execFileSync('ip', ['netns', 'del', this.#ns(name)], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  }
}

function ip(ns: string, ...args: string[]): Promise<unknown> {
  return run('ip', ['-n', ns, ...args]);
}

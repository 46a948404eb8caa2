// The Discover client: one long-lived stream at a time, to one of several Polaris addresses. A
// failed or silent stream is dropped and the next address is tried, each address with its own
// exponential backoff. Connection changes are logged once, not per retry.
import type { ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { PolarisGRPCClient, type DiscoverRequest, type DiscoverResponse } from '../../gen/v1/discover.js';
import { AddressBackoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { callMetadata, channelCredentials, type PolarisTls } from './credentials.js';
import { DiscoverStream, StreamFailure } from './discover-stream.js';

export { StreamFailure } from './discover-stream.js';

export interface ConnectorOptions {
  /** `host:port` of Polaris's service-grpc listener(s), tried in order. */
  readonly addresses: readonly string[];
  readonly token?: string;
  readonly tls?: PolarisTls;
  /** A stream with requests pending and no answer for this long is dropped. */
  readonly requestTimeoutMs: number;
  readonly maxReceiveMessageBytes?: number;
  readonly logger: Logger;
  readonly backoff?: Partial<BackoffOptions>;
  /** Called once per failed stream (for metrics). */
  readonly onStreamFailure?: (address: string, reason: string) => void;
}

/** ConnectionStatus is the connector's view for /readyz and /debug. */
export interface ConnectionStatus {
  readonly connected: boolean;
  /** The address in use, or the one last tried. */
  readonly address: string;
  /** Why the last stream failed; cleared on connect. */
  readonly lastError?: string;
}

/** 64 MiB: a SERVICES answer for a large registry is one message, far above grpc-js's 4 MiB default. */
export const DEFAULT_MAX_RECEIVE_BYTES = 64 * 1024 * 1024;

/** DiscoverConnector sends DiscoverRequests and returns their answers, failing over between addresses. */
export class DiscoverConnector {
  private readonly creds: ChannelCredentials;
  private readonly backoff: AddressBackoff;
  private readonly clients = new Map<string, PolarisGRPCClient>();
  private readonly listeners: Array<(s: ConnectionStatus) => void> = [];
  /** Addresses whose unreachability was already logged since the last successful connect. */
  private readonly reported = new Set<string>();
  private stream: DiscoverStream | undefined;
  private index = 0;
  private closed = false;
  private state: ConnectionStatus;

  constructor(private readonly opts: ConnectorOptions) {
    if (opts.addresses.length === 0) throw new Error('DiscoverConnector needs at least one address');
    this.creds = channelCredentials(opts.tls);
    this.backoff = new AddressBackoff({ ...DEFAULT_BACKOFF, ...opts.backoff });
    this.state = { connected: false, address: opts.addresses[0]! };
  }

  status(): ConnectionStatus {
    return this.state;
  }

  /** onChange registers a listener for connection changes (connected, disconnected, address). */
  onChange(listener: (s: ConnectionStatus) => void): void {
    this.listeners.push(listener);
  }

  /** inFlight is the number of requests on the current stream waiting for an answer. */
  get inFlight(): number {
    return this.stream?.inFlight ?? 0;
  }

  /**
   * discover sends one request and resolves with its answer (whatever its code). It rejects with a
   * StreamFailure when the stream fails or no address may be tried yet (backoff).
   */
  discover(request: DiscoverRequest): Promise<DiscoverResponse> {
    if (this.closed) return Promise.reject(new StreamFailure(this.state.address, 'connector closed'));
    const stream = this.stream ?? this.open();
    if (stream === undefined)
      return Promise.reject(new StreamFailure(this.state.address, this.state.lastError ?? 'backing off'));
    return stream.send(request);
  }

  close(): void {
    this.closed = true;
    this.stream?.close();
    this.stream = undefined;
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private open(): DiscoverStream | undefined {
    const now = Date.now();
    const n = this.opts.addresses.length;
    for (let i = 0; i < n; i++) {
      const idx = (this.index + i) % n;
      const address = this.opts.addresses[idx]!;
      if (this.backoff.readyAt(address) > now) continue;
      this.index = idx;
      const call = this.client(address).discover(callMetadata(this.opts.token));
      const stream: DiscoverStream = new DiscoverStream(address, call, this.opts.requestTimeoutMs, {
        onFirstAnswer: () => this.connected(address),
        onFail: (reason) => this.failed(stream, address, reason),
      });
      this.stream = stream;
      if (this.state.address !== address) this.setState({ connected: false, address, lastError: this.state.lastError });
      return stream;
    }
    return undefined;
  }

  private client(address: string): PolarisGRPCClient {
    let c = this.clients.get(address);
    if (c === undefined) {
      const options: ChannelOptions = {
        'grpc.max_receive_message_length': this.opts.maxReceiveMessageBytes ?? DEFAULT_MAX_RECEIVE_BYTES,
        'grpc.initial_reconnect_backoff_ms': 200,
        'grpc.max_reconnect_backoff_ms': 10_000,
        'grpc.enable_retries': 0,
        'grpc.primary_user_agent': 'polaris-xds',
      };
      c = new PolarisGRPCClient(address, this.creds, options);
      this.clients.set(address, c);
    }
    return c;
  }

  private connected(address: string): void {
    this.backoff.succeed(address);
    this.reported.clear();
    this.opts.logger.info({ address }, `connected to polaris ${address}`);
    this.setState({ connected: true, address });
  }

  private failed(stream: DiscoverStream, address: string, reason: string): void {
    if (this.stream === stream) this.stream = undefined;
    // A fresh channel next time: a half-dead connection must not be reused, and grpc-js's own
    // reconnect backoff must not add to ours.
    this.clients.get(address)?.close();
    this.clients.delete(address);
    const delay = this.backoff.fail(address, Date.now());
    this.opts.onStreamFailure?.(address, reason);
    this.index = (this.opts.addresses.indexOf(address) + 1) % this.opts.addresses.length;
    if (this.state.connected) {
      this.opts.logger.warn(
        { code: 'PXDS_ERR_POLARIS_UNREACHABLE', address, reason },
        `disconnected from polaris ${address}: ${reason}`,
      );
      this.reported.add(address);
    } else if (!this.reported.has(address)) {
      this.opts.logger.warn(
        { code: 'PXDS_ERR_POLARIS_UNREACHABLE', address, reason },
        `polaris ${address} unreachable: ${reason}`,
      );
      this.reported.add(address);
    } else {
      this.opts.logger.debug({ address, reason, retryInMs: delay }, 'polaris still unreachable');
    }
    this.setState({ connected: false, address, lastError: reason });
  }

  private setState(s: ConnectionStatus): void {
    this.state = s;
    for (const l of this.listeners) l(s);
  }
}

// Channel credentials and per-call metadata for the Polaris connection. The token lives only in
// gRPC metadata; it is never logged.
import { readFileSync } from 'node:fs';
import { credentials, Metadata, type ChannelCredentials } from '@grpc/grpc-js';
import { PolarisXdsError } from '../../errors.js';

/** PolarisTls names PEM files: `ca` to verify the server, `cert`+`key` for a client certificate. */
export interface PolarisTls {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new PolarisXdsError(
      'PXDS_ERR_CONFIG_INVALID',
      [`polaris.tls.${what}: cannot read ${path}: ${(err as Error).message}`],
      { cause: err },
    );
  }
}

/**
 * channelCredentials builds insecure credentials without `tls`, TLS ones with it. Throws PXDS_ERR_CONFIG_INVALID on
 * unreadable files.
 */
export function channelCredentials(tls: PolarisTls | undefined): ChannelCredentials {
  if (tls === undefined) return credentials.createInsecure();
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new PolarisXdsError('PXDS_ERR_CONFIG_INVALID', ['polaris.tls: cert and key must be given together']);
  }
  const ca = tls.ca === undefined ? null : readPem(tls.ca, 'ca');
  const key = tls.key === undefined ? null : readPem(tls.key, 'key');
  const cert = tls.cert === undefined ? null : readPem(tls.cert, 'cert');
  return credentials.createSsl(ca, key, cert);
}

/** callMetadata carries the token under `x-polaris-token`, the key the Polaris server reads. */
export function callMetadata(token: string | undefined): Metadata {
  const md = new Metadata();
  if (token) md.set('x-polaris-token', token);
  return md;
}

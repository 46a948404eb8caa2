// The one catalogue of coded errors. Callers branch on `code`; `instanceof PolarisXdsError` only
// tells a coded error from a foreign one. Every code is listed in docs/errors.md and raised somewhere
// in src/ (a test keeps the three in step). Retired codes are listed there too and never reused.

export interface ErrorSpec {
  readonly code: string;
  /** Message template; `%s` placeholders are filled in order. */
  readonly message: string;
  /** gRPC status code for errors that end an xDS stream; 0 when not a stream error. */
  readonly grpcStatus: number;
}

const grpc = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNAVAILABLE: 14,
  INTERNAL: 13,
};

export const ERRORS = {
  PXDS_ERR_CONFIG_INVALID: { code: 'PXDS_ERR_CONFIG_INVALID', message: 'invalid configuration: %s', grpcStatus: 0 },
  PXDS_ERR_CONFIG_FILE: {
    code: 'PXDS_ERR_CONFIG_FILE',
    message: 'cannot read configuration file %s: %s',
    grpcStatus: 0,
  },
  PXDS_ERR_CLI_USAGE: { code: 'PXDS_ERR_CLI_USAGE', message: '%s', grpcStatus: 0 },
  PXDS_ERR_SERVE_LISTEN: { code: 'PXDS_ERR_SERVE_LISTEN', message: 'cannot listen on %s %s: %s', grpcStatus: 0 },
  PXDS_ERR_FILE_SOURCE: { code: 'PXDS_ERR_FILE_SOURCE', message: 'mesh file %s: %s', grpcStatus: 0 },
  PXDS_ERR_POLARIS_UNREACHABLE: {
    code: 'PXDS_ERR_POLARIS_UNREACHABLE',
    message: 'polaris %s unreachable: %s',
    grpcStatus: 0,
  },
  PXDS_ERR_POLARIS_RESPONSE: {
    code: 'PXDS_ERR_POLARIS_RESPONSE',
    message: 'polaris answered %s for %s: %s',
    grpcStatus: 0,
  },
  PXDS_ERR_POLARIS_AUTH: {
    code: 'PXDS_ERR_POLARIS_AUTH',
    message: 'Polaris rejected the token (%s): set --token-file or POLARIS_XDS_POLARIS_TOKEN',
    grpcStatus: 0,
  },
  PXDS_ERR_POLARIS_MALFORMED: {
    code: 'PXDS_ERR_POLARIS_MALFORMED',
    message: 'malformed polaris answer for %s: %s',
    grpcStatus: 0,
  },
  PXDS_ERR_CACHE_CORRUPT: {
    code: 'PXDS_ERR_CACHE_CORRUPT',
    message: 'disk cache %s unreadable, ignored: %s',
    grpcStatus: 0,
  },
  PXDS_ERR_CACHE_WRITE: { code: 'PXDS_ERR_CACHE_WRITE', message: 'cannot write disk cache %s: %s', grpcStatus: 0 },
  PXDS_ERR_RULE_SKIPPED: { code: 'PXDS_ERR_RULE_SKIPPED', message: '%s skipped: %s', grpcStatus: 0 },
  PXDS_ERR_XDS_NO_TYPE_URL: {
    code: 'PXDS_ERR_XDS_NO_TYPE_URL',
    message: 'request has no type_url',
    grpcStatus: grpc.INVALID_ARGUMENT,
  },
  PXDS_ERR_XDS_UNKNOWN_TYPE: {
    code: 'PXDS_ERR_XDS_UNKNOWN_TYPE',
    message: 'type_url %s is not served',
    grpcStatus: grpc.INVALID_ARGUMENT,
  },
  PXDS_ERR_XDS_NO_NODE: {
    code: 'PXDS_ERR_XDS_NO_NODE',
    message: 'first request of a stream has no node',
    grpcStatus: grpc.INVALID_ARGUMENT,
  },
  PXDS_ERR_XDS_TOO_MANY_NAMES: {
    code: 'PXDS_ERR_XDS_TOO_MANY_NAMES',
    message: 'request names %s resources; at most %s are allowed',
    grpcStatus: grpc.RESOURCE_EXHAUSTED,
  },
  PXDS_ERR_XDS_PENDING_BUDGET: {
    code: 'PXDS_ERR_XDS_PENDING_BUDGET',
    message: 'client is not reading: %s response bytes unflushed, over the %s budget of %s',
    grpcStatus: grpc.RESOURCE_EXHAUSTED,
  },
  PXDS_ERR_XDS_CLIENT_STALLED: {
    code: 'PXDS_ERR_XDS_CLIENT_STALLED',
    message: 'client has read nothing for %s ms; %s response bytes unflushed',
    grpcStatus: grpc.RESOURCE_EXHAUSTED,
  },
  PXDS_ERR_XDS_BAD_REQUEST: {
    code: 'PXDS_ERR_XDS_BAD_REQUEST',
    message: 'malformed request: %s',
    grpcStatus: grpc.INVALID_ARGUMENT,
  },
  PXDS_ERR_XDS_INTERNAL: { code: 'PXDS_ERR_XDS_INTERNAL', message: 'internal error: %s', grpcStatus: grpc.INTERNAL },
  PXDS_ERR_XDS_SHUTDOWN: {
    code: 'PXDS_ERR_XDS_SHUTDOWN',
    message: 'server shutting down: %s',
    grpcStatus: grpc.UNAVAILABLE,
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** PolarisXdsError carries a catalogue code, a formatted message and optional cause. */
export class PolarisXdsError extends Error {
  readonly code: ErrorCode;
  readonly grpcStatus: number;
  constructor(code: ErrorCode, args: ReadonlyArray<string | number>, options?: { cause?: unknown }) {
    const spec = ERRORS[code];
    let i = 0;
    super(
      spec.message.replace(/%s/g, () => String(args[i++] ?? '')),
      options,
    );
    this.name = 'PolarisXdsError';
    this.code = code;
    this.grpcStatus = spec.grpcStatus;
  }
}

/** xdsError is shorthand for `new PolarisXdsError(code, args)`. */
export function xdsError(code: ErrorCode, ...args: Array<string | number>): PolarisXdsError {
  return new PolarisXdsError(code, args);
}

/** errorCode returns the catalogue code of an error, or undefined for foreign errors. */
export function errorCode(err: unknown): ErrorCode | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code in ERRORS ? (code as ErrorCode) : undefined;
}

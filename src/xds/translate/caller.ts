// Who is calling, as the callee's proxy sees it. polaris-go's rate-limit rules can match the
// caller's service (CALLER_SERVICE: the caller's namespace and service, as the calling side declares
// them) and its address (CALLER_IP). Envoy's routes see neither, so the proxies write them into
// request headers polaris-xds owns, before any route is chosen (the HTTP connection manager's early
// header mutation), overwriting whatever the request carried:
// - a sidecar's outbound listener and a gateway write their own node's namespace and service (and
//   remove both when the node names no service), so an application cannot pass for another service
//   through its own proxy;
// - a sidecar's inbound listener and a gateway's entry write the connection's peer address.
// The callee's inbound routes then match these headers like any other (ratelimit.ts). Pure.
import { HeaderValueOption_HeaderAppendAction, type HeaderValueOption } from '../../gen/envoy/config/core/v3/base.js';
import type { TypedExtensionConfig } from '../../gen/envoy/config/core/v3/extension.js';
import type { HeaderMutation } from '../../gen/envoy/config/common/mutation_rules/v3/mutation_rules.js';
import {
  HeaderMutation as EarlyHeaderMutation,
  protobufPackage as earlyHeaderMutationPackage,
} from '../../gen/envoy/extensions/http/early_header_mutation/header_mutation/v3/header_mutation.js';
import { typedAny } from './encode.js';

/** The caller's namespace, written by the caller's proxy. */
export const CALLER_NAMESPACE_HEADER = 'x-polaris-xds-caller-namespace';
/** The caller's service name, written by the caller's proxy. */
export const CALLER_SERVICE_HEADER = 'x-polaris-xds-caller-service';
/** The caller's IP address (no port), written by the callee's proxy from the connection. */
export const CALLER_IP_HEADER = 'x-polaris-xds-caller-ip';
/** Every header polaris-xds writes about the caller: meant for mesh services only. */
export const CALLER_HEADERS: readonly string[] = [CALLER_NAMESPACE_HEADER, CALLER_SERVICE_HEADER, CALLER_IP_HEADER];

const EARLY_HEADER_MUTATION = 'envoy.http.early_header_mutation.header_mutation';
const TYPED_EARLY_HEADER_MUTATION = `type.googleapis.com/${earlyHeaderMutationPackage}.HeaderMutation`;

function overwrite(key: string, value: string): HeaderMutation {
  const option: HeaderValueOption = {
    header: { key, value, rawValue: Buffer.alloc(0) },
    appendAction: HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD,
    keepEmptyValue: false,
  };
  return { action: { $case: 'append', value: option } };
}

function remove(key: string): HeaderMutation {
  return { action: { $case: 'remove', value: key } };
}

function early(mutations: HeaderMutation[]): TypedExtensionConfig {
  return {
    name: EARLY_HEADER_MUTATION,
    typedConfig: typedAny(TYPED_EARLY_HEADER_MUTATION, EarlyHeaderMutation, { mutations }),
  };
}

/**
 * callerIdentityStamp writes the node's own service as the caller of every request it sends on; a node that names no
 * service removes the headers instead (it is an unknown caller, as a request without them is).
 */
export function callerIdentityStamp(namespace: string, service: string): TypedExtensionConfig {
  if (service === '' || namespace === '')
    return early([remove(CALLER_NAMESPACE_HEADER), remove(CALLER_SERVICE_HEADER)]);
  return early([overwrite(CALLER_NAMESPACE_HEADER, namespace), overwrite(CALLER_SERVICE_HEADER, service)]);
}

/** callerAddressStamp writes the address of the connection's peer (Envoy's formatter, evaluated per request). */
export function callerAddressStamp(): TypedExtensionConfig {
  return early([overwrite(CALLER_IP_HEADER, '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%')]);
}

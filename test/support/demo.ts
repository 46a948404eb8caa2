// The example demo's (examples/envoy/demo.sh) port variables, each moved to a free port, so a test can
// run the demo beside another copy of itself.
import { freePorts } from './ports.js';

const DEMO_PORT_VARIABLES = [
  'ECHO_V1A_PORT',
  'ECHO_V1B_PORT',
  'ECHO_V2_PORT',
  'XDS_PORT',
  'ADMIN_PORT',
  'ENVOY_ADMIN_PORT',
  'OUTBOUND_PORT',
  'INBOUND_PORT',
] as const;

/** demoPorts returns the demo's port variables, each set to a free loopback port. */
export async function demoPorts(): Promise<Record<(typeof DEMO_PORT_VARIABLES)[number], string>> {
  const ports = await freePorts(DEMO_PORT_VARIABLES.length);
  return Object.fromEntries(DEMO_PORT_VARIABLES.map((n, i) => [n, String(ports[i])])) as Record<
    (typeof DEMO_PORT_VARIABLES)[number],
    string
  >;
}

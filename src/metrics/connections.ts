// hearth_gateway_connections_* metrics: what the connection guard
// (src/gateway/connection-guard.ts) let in and what it closed. Refusals
// and evictions climbing together is a flood of connections.
import { Counter, Gauge, type Registry } from 'prom-client';

export interface ConnectionMetrics {
  open: Gauge;
  refused: Counter<'reason'>;
  closed: Counter<'reason'>;
}

export function createConnectionMetrics(registry: Registry): ConnectionMetrics {
  const registers = [registry];
  return {
    open: new Gauge({ name: 'hearth_gateway_connections_open', help: 'Client connections open on this gateway.', registers }),
    refused: new Counter({
      name: 'hearth_gateway_connections_refused_total',
      help: 'Connections closed as soon as they were accepted: address_cap (too many from one client address), gateway_cap (at the cap with every connection serving a request).',
      labelNames: ['reason'],
      registers,
    }),
    closed: new Counter({
      name: 'hearth_gateway_connections_closed_total',
      help: 'Open connections the gateway closed: evicted (the oldest one not serving a request, to make room at the cap), body_timeout (a request body that stopped arriving).',
      labelNames: ['reason'],
      registers,
    }),
  };
}

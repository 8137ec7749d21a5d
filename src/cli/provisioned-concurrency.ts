// An alias's provisioned concurrency as `hearth alias` and `hearth versions`
// show it, read through Lambda's own routes (GetProvisionedConcurrencyConfig,
// ListProvisionedConcurrencyConfigs): the alias's minInstances is not in
// Lambda's AliasConfiguration, so the gateway's alias answers do not carry it.
import { answerJson, callGateway, describeErrorAnswer, listPages, type GatewayTarget } from './gateway-client.js';

export interface ProvisionedConcurrency {
  /** The alias's ARN (FUNCTION_ARN:ALIAS); in list answers only. */
  FunctionArn?: string;
  RequestedProvisionedConcurrentExecutions?: number;
  Status?: string;
}

/** "2 (READY)", or "—" for an alias without provisioned concurrency. Pure. */
export function provisionedLabel(p: ProvisionedConcurrency | undefined): string {
  const n = p?.RequestedProvisionedConcurrentExecutions;
  if (p === undefined || n === undefined || n === 0) return '—';
  return p.Status !== undefined ? `${n} (${p.Status})` : String(n);
}

/** ListProvisionedConcurrencyConfigs' items by alias name (the ARN's last part). Pure. */
export function provisionedByAlias(configs: readonly ProvisionedConcurrency[]): Map<string, ProvisionedConcurrency> {
  const out = new Map<string, ProvisionedConcurrency>();
  for (const c of configs) {
    const alias = c.FunctionArn?.slice(c.FunctionArn.lastIndexOf(':') + 1);
    if (alias !== undefined && alias !== '') out.set(alias, c);
  }
  return out;
}

/** Every alias's provisioned concurrency of a function, or why the gateway would not say. */
export async function listProvisioned(target: GatewayTarget, name: string): Promise<Map<string, ProvisionedConcurrency> | { error: string }> {
  const configs = await listPages<ProvisionedConcurrency>(target, `/2019-09-30/functions/${encodeURIComponent(name)}/provisioned-concurrency?List=ALL`, 'ProvisionedConcurrencyConfigs', 50);
  return 'error' in configs ? { error: configs.error } : provisionedByAlias(configs);
}

/** One alias's provisioned concurrency; undefined when it has none (Lambda's 404 ProvisionedConcurrencyConfigNotFoundException). */
export async function getProvisioned(target: GatewayTarget, name: string, alias: string): Promise<ProvisionedConcurrency | undefined | { error: string }> {
  const res = await callGateway(target, 'GET', `/2019-09-30/functions/${encodeURIComponent(name)}/provisioned-concurrency?Qualifier=${encodeURIComponent(alias)}`);
  if (res.status === 404 && res.headers['x-amzn-errortype'] === 'ProvisionedConcurrencyConfigNotFoundException') return undefined;
  if (res.status >= 400) return { error: describeErrorAnswer(res) };
  return answerJson<ProvisionedConcurrency>(res);
}

// The dispatcher's side of the HTTP invoke endpoint: the same invoke(req)
// as an in-process Agent, over kept-alive connections to one agent.
import { Pool } from 'undici';
import type { InvokeRequest, InvokeResult } from './invocation.js';
import { INVOKE_PATH, requestToHeaders, resultFromHeaders } from './invoke-headers.js';

export interface AgentClientOptions {
  /** Connections kept open to the agent (default 8; 1 for strictly sequential callers). */
  connections?: number;
  /** Added to the invocation's deadline before the client gives up on the agent. */
  deadlineSlackMs?: number;
}

/** The agent answered with something other than an invocation result (e.g. 413 for an oversized event). */
export class AgentHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: string,
  ) {
    super(`agent answered ${statusCode}: ${body.slice(0, 200)}`);
    this.name = 'AgentHttpError';
  }
}

export class AgentClient {
  private readonly pool: Pool;
  private readonly slackMs: number;

  constructor(
    readonly url: string,
    opts: AgentClientOptions = {},
  ) {
    this.pool = new Pool(url, { connections: opts.connections ?? 8, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000, pipelining: 1 });
    this.slackMs = opts.deadlineSlackMs ?? 5000;
  }

  async invoke(req: InvokeRequest): Promise<InvokeResult> {
    // The agent always answers by the deadline (with Sandbox.Timedout at worst); the slack covers its restart.
    const waitMs = Math.max(1000, req.deadlineMs - Date.now() + this.slackMs);
    const res = await this.pool.request({
      path: INVOKE_PATH,
      method: 'POST',
      headers: { ...requestToHeaders(req), 'content-type': 'application/json' },
      body: req.payload,
      headersTimeout: waitMs,
      bodyTimeout: waitMs,
    });
    const payload = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode !== 200) throw new AgentHttpError(res.statusCode, payload.toString('utf8'));
    return resultFromHeaders(res.headers, payload);
  }

  async ready(): Promise<boolean> {
    try {
      const res = await this.pool.request({ path: '/readyz', method: 'GET', headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.dump();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

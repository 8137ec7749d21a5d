// What the finalizer does before a Function goes: delete its queue's keys
// (events, delayed retries, dead letters, idempotency keys), so a function
// created again under the same name starts empty. Key names come from the
// queue's own helpers; every key of a function shares its hash tag, so one
// SCAN pattern finds them all. A Redis Cluster is scanned node by node
// (SCAN sees one node's keys); the keys found share a slot, so one DEL takes them.
import { Cluster } from 'ioredis';
import { DEFAULT_KEY_PREFIX, functionKeys } from '../queue/keys.js';
import type { RedisClient } from '../queue/redis.js';

/** Deletes every key of the function; returns how many were deleted. Safe to repeat. */
export async function deleteFunctionKeys(redis: RedisClient, functionName: string, prefix: string = DEFAULT_KEY_PREFIX): Promise<number> {
  const keys = functionKeys(functionName, prefix);
  // The tag is escaped for MATCH, where braces are literal but * ? [ are not.
  const pattern = `${prefix}:{${functionName.replace(/[*?[\]\\]/g, '\\$&')}}:*`;
  let deleted = Number(await redis.del(keys.events, keys.delayed, keys.deadLetters));
  for (const node of redis instanceof Cluster ? redis.nodes('master') : [redis]) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (found.length > 0) deleted += Number(await redis.del(...found));
    } while (cursor !== '0');
  }
  return deleted;
}

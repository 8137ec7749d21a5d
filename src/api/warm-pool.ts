// A warm pool: pre-started, generic pods of one runtime family that hold no
// function yet. On a cold start a gateway claims one (one function per pod;
// a claimed pod never returns), hands its agent the function's code and
// configuration, and the runtime initialises in place. The chart makes one
// WarmPool per runtime from its values; the controller keeps each one's
// pods (a Deployment it owns) at the size its recent claims call for, and
// `kubectl get warmpools` shows them.
import { z } from 'zod';
import { API_VERSION, ConditionSchema, MetadataSchema } from './function.js';

export const POOL_KIND = 'WarmPool';
export const POOL_PLURAL = 'warmpools';

/** The runtime families a pool can serve: those whose interpreter starts before it knows the function (see runtimes/README.md, warm-pool specialisation). */
export const POOL_RUNTIMES = ['python', 'nodejs'] as const;
export type PoolRuntime = (typeof POOL_RUNTIMES)[number];

export const WarmPoolSpecSchema = z
  .strictObject({
    runtime: z.enum(POOL_RUNTIMES).describe('Runtime family of the pool\'s pods: python serves python3.x functions, nodejs serves nodejs2x.'),
    minSize: z.number().int().min(0).max(100).default(1).describe('Idle pods kept at the least, whatever the claims.'),
    maxSize: z.number().int().min(0).max(100).default(10).describe('Idle pods kept at the most, however fast they are claimed.'),
    memoryMB: z
      .number()
      .int()
      .min(128)
      .max(10_240)
      .default(128)
      .describe('Memory limit of a pool pod\'s runtime container: only functions with exactly this memoryMB are served from the pool (a running container\'s limit cannot change).'),
    ephemeralStorageMB: z.number().int().min(512).max(10_240).default(512).describe('Size of /tmp in a pool pod: only functions asking for no more are served from the pool.'),
  })
  .refine((s) => s.minSize <= s.maxSize, { message: 'must not exceed maxSize', path: ['minSize'] })
  .meta({ 'x-kubernetes-validations': [{ rule: 'self.minSize <= self.maxSize', message: 'minSize must not exceed maxSize', fieldPath: '.minSize' }] });
export type WarmPoolSpec = z.infer<typeof WarmPoolSpecSchema>;
export type WarmPoolSpecInput = z.input<typeof WarmPoolSpecSchema>;

export const WarmPoolStatusSchema = z.strictObject({
  conditions: z.array(ConditionSchema).optional().meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
  observedGeneration: z.number().int().min(0).optional(),
  desiredSize: z.number().int().min(0).optional().describe('Idle pods the pool aims for now (between minSize and maxSize, from the recent claims).'),
  readyPods: z.number().int().min(0).optional().describe('Idle pods ready to be claimed.'),
  claims: z.number().int().min(0).optional().describe('Pods claimed from this pool since the controller started leading.'),
  claimsPerMinute: z.number().min(0).optional().describe('Claims in the recent window, per minute.'),
  lastClaimTime: z.string().optional().describe('When a pod was last claimed (RFC 3339).'),
});
export type WarmPoolStatus = z.infer<typeof WarmPoolStatusSchema>;

export const WarmPoolSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(POOL_KIND),
  metadata: MetadataSchema,
  spec: WarmPoolSpecSchema,
  status: WarmPoolStatusSchema.optional(),
});
export type WarmPool = z.infer<typeof WarmPoolSchema>;
export type WarmPoolInput = z.input<typeof WarmPoolSchema>;

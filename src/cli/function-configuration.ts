// The parts of Lambda's FunctionConfiguration (botocore's shape of that name)
// that `hearth ls` and `hearth get` show, and how a function's state reads
// in one cell. Members are optional as in the model: a gateway may leave any
// out, and the commands show what is there.

export interface FunctionConfiguration {
  FunctionName: string;
  FunctionArn?: string;
  Runtime?: string;
  Role?: string;
  Handler?: string;
  CodeSize?: number;
  Description?: string;
  Timeout?: number;
  MemorySize?: number;
  LastModified?: string;
  CodeSha256?: string;
  Version?: string;
  Environment?: { Variables?: Record<string, string>; Error?: { ErrorCode?: string; Message?: string } };
  RevisionId?: string;
  Layers?: { Arn?: string; CodeSize?: number }[];
  State?: string;
  StateReason?: string;
  StateReasonCode?: string;
  LastUpdateStatus?: string;
  LastUpdateStatusReason?: string;
  LastUpdateStatusReasonCode?: string;
  PackageType?: string;
  Architectures?: string[];
  EphemeralStorage?: { Size?: number };
}

/** "Active", "Active, updating", "Failed"...: the state with an update in progress or failed. Pure. */
export function stateCell(c: Pick<FunctionConfiguration, 'State' | 'LastUpdateStatus'>): string {
  const state = c.State ?? '-';
  if (c.LastUpdateStatus === 'InProgress') return `${state}, updating`;
  if (c.LastUpdateStatus === 'Failed' && c.State !== 'Failed') return `${state}, update failed`;
  return state;
}

/** The runtime as Lambda names it; an image has none. */
export function runtimeCell(c: Pick<FunctionConfiguration, 'Runtime' | 'PackageType'>): string {
  return c.Runtime ?? (c.PackageType === 'Image' ? 'image' : '-');
}

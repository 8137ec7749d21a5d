// Placeholder until the async queue's CLI lands (owned by the queue work).
export async function dlqCommand(_argv: string[]): Promise<number> {
  console.error('hearth dlq: not available yet in this build');
  return 2;
}

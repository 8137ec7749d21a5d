// `hearth agent`: filled in by the issue that builds it.
export async function agentCommand(_argv: string[]): Promise<number> {
  console.error('hearth agent: not available yet in this build');
  return 2;
}

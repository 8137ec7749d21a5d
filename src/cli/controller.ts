// `hearth controller`: filled in by the issue that builds it.
export async function controllerCommand(_argv: string[]): Promise<number> {
  console.error('hearth controller: not available yet in this build');
  return 2;
}

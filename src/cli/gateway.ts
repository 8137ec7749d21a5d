// `hearth gateway`: filled in by the issue that builds it.
export async function gatewayCommand(_argv: string[]): Promise<number> {
  console.error('hearth gateway: not available yet in this build');
  return 2;
}

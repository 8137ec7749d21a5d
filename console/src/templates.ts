// The runtimes the console offers and each one's starting code: Lambda's own
// hello world, in the file and handler Lambda's console names. Pure.

export interface RuntimeChoice {
  /** Lambda's runtime id, as CreateFunction takes it. */
  id: string;
  label: string;
  language: 'python' | 'javascript';
  file: string;
  handler: string;
  code: string;
}

const PYTHON = `import json

def lambda_handler(event, context):
    # Your code here
    return {
        'statusCode': 200,
        'body': json.dumps('Hello from Hearth!')
    }
`;

const NODE = `export const handler = async (event) => {
  // Your code here
  return {
    statusCode: 200,
    body: JSON.stringify('Hello from Hearth!'),
  };
};
`;

const python = (id: string): RuntimeChoice => ({ id, label: `Python ${id.slice(6)}`, language: 'python', file: 'lambda_function.py', handler: 'lambda_function.lambda_handler', code: PYTHON });
const node = (id: string, v: string): RuntimeChoice => ({ id, label: `Node.js ${v}`, language: 'javascript', file: 'index.mjs', handler: 'index.handler', code: NODE });

export const RUNTIME_CHOICES: readonly RuntimeChoice[] = [python('python3.13'), python('python3.12'), python('python3.11'), node('nodejs22.x', '22'), node('nodejs20.x', '20')];

export function runtimeChoice(id: string | undefined): RuntimeChoice | undefined {
  return RUNTIME_CHOICES.find((r) => r.id === id);
}

/** The code file of a handler ("lambda_function.lambda_handler" -> lambda_function.py for Python, index.mjs for Node's index.handler). */
export function handlerFile(handler: string, language: RuntimeChoice['language'], files: readonly string[] = []): string {
  const base = handler.includes('.') ? handler.slice(0, handler.lastIndexOf('.')) : handler;
  const candidates = language === 'python' ? [`${base}.py`] : [`${base}.mjs`, `${base}.js`, `${base}.cjs`];
  return candidates.find((c) => files.includes(c)) ?? (candidates[0] as string);
}

/** Lambda's function names as Hearth takes them: a lowercase DNS label. */
export function functionNameProblem(name: string): string | undefined {
  if (name === '') return 'Enter a name.';
  if (name.length > 63) return 'At most 63 characters.';
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name)) return 'Lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen.';
  return undefined;
}

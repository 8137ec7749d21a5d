// `hearth init NAME --runtime RUNTIME [--dir DIR]`: a ready function
// directory, as `sam init` and `faas-cli new` give: the handler's sources
// under src/ and NAME.yaml, a Function whose code is that directory, which
// `hearth deploy` packages for `hearth up` or a cluster. The files are built
// by a pure function (initFiles, table-tested per runtime); the command only
// checks the target and writes them.
import { constants } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { LIMITS, MetadataSchema, RUNTIMES, type Runtime } from '../api/function.js';

const HELP = `usage: hearth init NAME --runtime RUNTIME [--dir DIR]

Writes a ready function directory: DIR/NAME.yaml (the Function) and the
handler's sources under DIR/src (Lambda's hello world, answering
{"statusCode": 200, "body": ...}), then prints how to deploy and call it.

  --runtime RUNTIME  one of ${RUNTIMES.join(', ')}
  --dir DIR          where to write (default: ./NAME); it must not exist or be empty

go: main.go and go.mod with aws-lambda-go's lambda.Start, built by Hearth on
first start. provided: an executable shell bootstrap speaking the Runtime API
(needs curl where it runs).`;

/** A file the command writes, relative to the function directory. */
export interface InitFile {
  path: string;
  content: string;
  executable?: boolean;
}

/** The directory the Function's package is built from, relative to NAME.yaml. */
export const SOURCE_DIR = 'src';

const GO_MOD_REQUIRE = 'github.com/aws/aws-lambda-go v1.55.1';
// aws-lambda-go's own go.sum lines for the version above (as examples/hello-go.yaml ships them), so the build needs no network once the module is cached.
const GO_SUM = `github.com/aws/aws-lambda-go v1.55.1 h1:We2cCp4BwqqH/JW+bEEo1FhgG71rslvjfi4y7KmlrR0=
github.com/aws/aws-lambda-go v1.55.1/go.mod h1:V+NzkHNR6vBC8C1PDloqSLE+7jYWFiPvJJFiCiTm8nE=
github.com/davecgh/go-spew v1.1.1 h1:vj9j/u1bqnvCEfJOwUhtlOARqs3+rkHYY13jYWTU97c=
github.com/davecgh/go-spew v1.1.1/go.mod h1:J7Y8YcW2NihsgmVo/mv3lAwl/skON4iLHjSsI+c5H38=
github.com/pmezard/go-difflib v1.0.0 h1:4DBwDE0NGyQoBHbLQYPwSUPoCMWR5BEzIk/f1lZbAQM=
github.com/pmezard/go-difflib v1.0.0/go.mod h1:iKH77koFhYxTK1pcRnkKkqfTogsbg7gZNVY4sRDYZ/4=
github.com/stretchr/testify v1.7.2 h1:4jaiDzPyXQvSd7D0EjG45355tLlV3VOECpq10pLC+8s=
github.com/stretchr/testify v1.7.2/go.mod h1:R6va5+xMeoiuVRoj+gSkQ7d3FALtqAAGI1FQKckRals=
gopkg.in/yaml.v3 v3.0.1 h1:fxVm/GzAzEWqLHuvctI91KS9hhNmmWOoWu0XTYJS7CA=
gopkg.in/yaml.v3 v3.0.1/go.mod h1:K4uyk7z7BCEPqu6E+C64Yfv1cQ7kz7rIZviUmN+EgEM=
`;

/** What each runtime family's hello world is: its source files and its handler (none for go and provided). */
function handlerFiles(name: string, runtime: Runtime): { handler?: string; files: InitFile[]; note: string } {
  // The name is a DNS label (a-z, 0-9, -), so it needs no quoting in any of the languages below.
  const greeting = `Hello from ${name}!`;
  if (runtime.startsWith('python')) {
    return {
      handler: 'lambda_function.lambda_handler',
      note: `# The handler is src/lambda_function.py's lambda_handler, as in Lambda's console.`,
      files: [
        {
          path: 'lambda_function.py',
          content: `import json


def lambda_handler(event, context):
    return {
        'statusCode': 200,
        'body': json.dumps('${greeting}'),
    }
`,
        },
      ],
    };
  }
  if (runtime.startsWith('nodejs')) {
    return {
      handler: 'index.handler',
      note: `# The handler is src/index.mjs's export handler (an ES module), as in Lambda's console.`,
      files: [
        {
          path: 'index.mjs',
          content: `export const handler = async (event, context) => {
  return {
    statusCode: 200,
    body: JSON.stringify('${greeting}'),
  };
};
`,
        },
      ],
    };
  }
  if (runtime === 'go') {
    return {
      note: `# src/ holds a Go program written with aws-lambda-go (lambda.Start); Hearth builds it
# into a static bootstrap on first start (runtimes/go/build.sh), with the Go
# toolchain of the machine or of the go runtime image.`,
      files: [
        {
          path: 'main.go',
          content: `package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

type Response struct {
	StatusCode int    \`json:"statusCode"\`
	Body       string \`json:"body"\`
}

func handler(ctx context.Context, event json.RawMessage) (Response, error) {
	body, err := json.Marshal("${greeting}")
	if err != nil {
		return Response{}, err
	}
	return Response{StatusCode: 200, Body: string(body)}, nil
}

func main() {
	lambda.Start(handler)
}
`,
        },
        { path: 'go.mod', content: `module ${name}\n\ngo 1.26\n\nrequire ${GO_MOD_REQUIRE}\n` },
        { path: 'go.sum', content: GO_SUM },
      ],
    };
  }
  return {
    note: `# src/bootstrap is a custom runtime: an executable that speaks the Lambda
# Runtime API itself, here a shell loop around curl (curl must be where it
# runs; the runtime-provided image has none, so in a cluster ship an image or
# a compiled bootstrap instead).`,
    files: [
      {
        path: 'bootstrap',
        executable: true,
        content: `#!/bin/sh
# The Lambda Runtime API loop: take the next event, answer it, forever.
set -eu
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  HEADERS=$(mktemp)
  curl -sS -D "$HEADERS" -o /dev/null "$API/invocation/next"
  ID=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | tr -d '\\r' | cut -d' ' -f2)
  rm -f "$HEADERS"
  curl -sS -X POST "$API/invocation/$ID/response" \\
    -d '{"statusCode": 200, "body": "\\"${greeting}\\""}' >/dev/null
done
`,
      },
    ],
  };
}

/** Every file of a new function directory: NAME.yaml and the sources under src/. Pure. */
export function initFiles(name: string, runtime: Runtime): InitFile[] {
  const { handler, files, note } = handlerFiles(name, runtime);
  const yaml = `# ${name}: a hello-world function made by \`hearth init\`.
${note}
# Its code is the directory ${SOURCE_DIR}/, which \`hearth deploy\` packages into a ZIP:
#   hearth deploy ${name}.yaml --dir FUNCTIONS_DIR   # to \`hearth up --dir FUNCTIONS_DIR\`
#   hearth deploy ${name}.yaml --namespace NS        # to a cluster
apiVersion: hearth.dev/v1alpha1
kind: Function
metadata:
  name: ${name}
spec:
  runtime: ${runtime}
${handler !== undefined ? `  handler: ${handler}\n` : ''}  memoryMB: ${LIMITS.memoryMB.default}
  timeoutSeconds: ${LIMITS.timeoutSeconds.default}
  code:
    package:
      path: ${SOURCE_DIR}
`;
  return [{ path: `${name}.yaml`, content: yaml }, ...files.map((f) => ({ ...f, path: `${SOURCE_DIR}/${f.path}` }))];
}

/** Lambda's runtime ids a user may type, and Hearth's name for each. */
const LAMBDA_RUNTIME_NAMES: Record<string, Runtime> = {
  'nodejs20.x': 'nodejs20',
  'nodejs22.x': 'nodejs22',
  'provided.al2023': 'provided',
  'provided.al2': 'provided',
};

export interface InitArgs {
  name: string;
  runtime: Runtime;
  dir: string;
}

/** The command's arguments checked, or what is wrong with them. Pure. */
export function parseInitArgs(positionals: readonly string[], values: { runtime?: string; dir?: string }): InitArgs | string {
  if (positionals.length !== 1) return positionals.length === 0 ? 'name the function: hearth init NAME --runtime RUNTIME' : `one function at a time, not ${positionals.join(' ')}`;
  const name = positionals[0] as string;
  const valid = MetadataSchema.shape.name.safeParse(name);
  if (!valid.success) return `${JSON.stringify(name)} is not a valid function name: it must be a lowercase DNS label (a-z, 0-9 and -, starting with a letter, not ending with -, at most 63 characters)`;
  const runtime = values.runtime;
  if (runtime === undefined) return `--runtime is required: one of ${RUNTIMES.join(', ')}`;
  if (!(RUNTIMES as readonly string[]).includes(runtime)) {
    const hearthName = LAMBDA_RUNTIME_NAMES[runtime];
    return `unknown runtime ${JSON.stringify(runtime)}${hearthName !== undefined ? ` (Hearth calls Lambda's ${runtime} ${hearthName})` : ''}: one of ${RUNTIMES.join(', ')}`;
  }
  return { name, runtime: runtime as Runtime, dir: values.dir ?? name };
}

/** What to do next, as the command prints it. Pure. */
export function nextSteps(args: InitArgs): string {
  const yaml = join(args.dir, `${args.name}.yaml`);
  return `Next steps:
  mkdir -p functions && hearth up --dir functions &   # the platform on this machine, unless one runs
  hearth deploy ${yaml} --dir functions   # packages ${join(args.dir, SOURCE_DIR)}/ into the functions directory
  hearth invoke ${args.name}

In a cluster: hearth deploy ${yaml} --namespace NS, then hearth invoke ${args.name} --url GATEWAY.
Edit the sources and run hearth deploy again to update the function.`;
}

/** Writes the files into an absent or empty directory; refuses anything else without touching it. */
async function writeFunctionDir(dir: string, files: readonly InitFile[]): Promise<string | undefined> {
  await mkdir(dir, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  const present = await readdir(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOTDIR' ? null : Promise.reject(err)));
  if (present === null) return `${dir} exists and is not a directory`;
  if (present.length > 0) return `${dir} is not empty (${present.slice(0, 3).join(', ')}${present.length > 3 ? ', …' : ''}); choose another --dir`;
  for (const f of files) {
    const path = join(dir, f.path);
    await mkdir(join(path, '..'), { recursive: true });
    // wx: never replace a file that appeared since the check.
    await writeFile(path, f.content, { flag: constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode: f.executable === true ? 0o755 : 0o644 });
  }
  return undefined;
}

export async function initCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { runtime: { type: 'string', short: 'r' }, dir: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    console.error(`hearth init: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (parsed.values.help === true) {
    console.log(HELP);
    return 0;
  }
  const args = parseInitArgs(parsed.positionals, parsed.values);
  if (typeof args === 'string') {
    console.error(`hearth init: ${args}\n\n${HELP}`);
    return 2;
  }
  const files = initFiles(args.name, args.runtime);
  const refused = await writeFunctionDir(args.dir, files);
  if (refused !== undefined) {
    console.error(`hearth init: ${refused}`);
    return 2;
  }
  const shown = relative('.', args.dir) || '.';
  console.log(`Created ${args.name} (${args.runtime}) in ${shown}/:\n${files.map((f) => `  ${join(shown, f.path)}`).join('\n')}\n\n${nextSteps(args)}`);
  return 0;
}

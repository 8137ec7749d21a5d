// CreateFunction's body → what the store creates. The ZIP (ZipFile) is
// handed back as bytes: the route checks and stores it through Uploads and
// names it in the spec (code.package); an ImageUri is named as it is. Pure.
import type { Code, FunctionSpecInput } from '../api/function.js';
import type { CreateFunctionInput } from '../store/function-store.js';
import { badParameter } from '../gateway/lambda-errors.js';
import { checkArchitectures, optionalBoolean, optionalStringMap, type Body } from './body-fields.js';
import { applyConfiguration, readConfiguration } from './configuration-update.js';
import { createCode, type CodeRequest } from './function-code.js';
import { checkTags } from './tags.js';

export interface CreateFunctionRequest {
  code: CodeRequest;
  publish: boolean;
  /** The store's input once the code is named. */
  input(code: Code): CreateFunctionInput;
}

export function readCreateFunction(body: Body, name: string, architecture: string): CreateFunctionRequest {
  const packageType = body.PackageType ?? 'Zip';
  if (packageType !== 'Zip' && packageType !== 'Image') throw badParameter("PackageType must be 'Zip' or 'Image'");
  checkArchitectures(body, architecture);
  const fields = readConfiguration(body, name);
  if (packageType === 'Zip' && (fields.runtime === undefined || (fields.handler === undefined && fields.runtime !== 'provided'))) {
    throw badParameter('Runtime and Handler are mandatory parameters for functions created with deployment packages.');
  }
  const code = createCode(body, packageType);
  const publish = optionalBoolean(body, 'Publish') ?? false;
  const tags = optionalStringMap(body, 'Tags');
  if (tags !== undefined) checkTags(tags);
  return {
    code,
    publish,
    input(named: Code): CreateFunctionInput {
      // An image brings its own runtime; Hearth runs it as a custom runtime.
      const base: FunctionSpecInput = { runtime: fields.runtime ?? 'provided', code: named };
      const spec = applyConfiguration(base, fields);
      return { name, spec: tags !== undefined && Object.keys(tags).length > 0 ? { ...spec, tags } : spec };
    },
  };
}

#!/usr/bin/env node
// Entry point of Hearth's Node.js runtime: `node runtimes/nodejs/bootstrap.mjs`.
// Everything lives in runtime.mjs, imported here before any function
// configuration is read (so a warm-pool process has it loaded already).
import { start } from './runtime.mjs';

await start();

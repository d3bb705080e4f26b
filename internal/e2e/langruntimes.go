package e2e

import "fmt"

// The managed runtimes of the fidelity bases. They play AWS's part (the
// code AWS ships in /var/runtime of public.ecr.aws/lambda/python and
// .../nodejs), written here from AWS's documentation and AWS's published
// runtime interface clients; what they reproduce is exactly what decides
// whether a function's imports resolve from its layers: the search paths
// and the handler resolution. Everything else is the Runtime API loop.

// pythonBootstrap starts the Python runtime loop the way the AWS Python
// bases do: the interpreter in /var/lang/bin, the loop in /var/runtime.
const pythonBootstrap = `#!/bin/sh
exec /var/lang/bin/python3 /var/runtime/lambda_runtime.py
`

// pythonRuntime is the Runtime API loop of the Python base.
//
// sys.path, in Lambda's order (AWS Lambda Developer Guide, "Working with
// .zip file archives for Python Lambda functions", section "Dependency
// search path and runtime-included libraries",
// https://docs.aws.amazon.com/lambda/latest/dg/python-package.html, and
// "Layer paths for each Lambda runtime",
// https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html):
// the function's directory (LAMBDA_TASK_ROOT, /var/task) first, then the
// layer paths /opt/python/lib/pythonX.Y/site-packages and /opt/python, then
// the runtime's own (the interpreter's standard library and site-packages,
// /var/runtime last). When PYTHONPATH is set the AWS bootstrap takes it as
// given and the /opt paths are not added; so does this one.
//
// The handler "pkg/mod.fn" or "mod.fn" names module mod (importlib, so
// packages, extension modules and .pyc files load as in Lambda) and its
// attribute fn; the errors carry Lambda's error types
// (Runtime.ImportModuleError, Runtime.HandlerNotFound,
// Runtime.UserCodeSyntaxError) and messages of the same shape.
const pythonRuntime = `import http.client
import importlib
import json
import os
import sys
import time
import traceback

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
TASK_ROOT = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
RUNTIME_DIR = os.environ.get("LAMBDA_RUNTIME_DIR", "/var/runtime")


def search_path():
    here = os.path.dirname(os.path.abspath(__file__))
    own = [p for p in sys.path if p and p != here]
    front = [TASK_ROOT]
    if "PYTHONPATH" not in os.environ:
        ver = "python%d.%d" % sys.version_info[:2]
        front += ["/opt/python/lib/%s/site-packages" % ver, "/opt/python"]
    rest = [p for p in own if p not in front and p != RUNTIME_DIR]
    return front + rest + [RUNTIME_DIR]


def call(method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(API, timeout=None)
    try:
        conn.request(method, "/2018-06-01/runtime" + path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp, resp.read()
    finally:
        conn.close()


def error_body(etype, message, trace=None):
    return json.dumps({"errorMessage": message, "errorType": etype, "stackTrace": trace or []}).encode()


def init_error(etype, message):
    sys.stderr.write("init error: %s: %s\n" % (etype, message))
    call("POST", "/init/error", error_body(etype, message), {"Lambda-Runtime-Function-Error-Type": etype})
    sys.exit(1)


class Context:
    def __init__(self, request_id, deadline_ms, arn):
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))


def load(handler):
    mod_name, _, fn_name = handler.rpartition(".")
    if not mod_name or not fn_name:
        init_error("Runtime.MalformedHandlerName", "Bad handler '%s': not enough values to unpack (expected 2, got 1)" % handler)
    mod_name = mod_name.replace("/", ".")
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        init_error("Runtime.ImportModuleError", "Unable to import module '%s': %s" % (mod_name, e))
    except SyntaxError as e:
        init_error("Runtime.UserCodeSyntaxError", "Syntax error in module '%s': %s" % (mod_name, e))
    fn = getattr(mod, fn_name, None)
    if fn is None:
        init_error("Runtime.HandlerNotFound", "Handler '%s' missing on module '%s'" % (fn_name, mod_name))
    return fn


def main():
    sys.path[:] = search_path()
    fn = load(os.environ["_HANDLER"])
    while True:
        resp, body = call("GET", "/invocation/next")
        rid = resp.getheader("Lambda-Runtime-Aws-Request-Id")
        ctx = Context(rid, int(resp.getheader("Lambda-Runtime-Deadline-Ms") or 0),
                      resp.getheader("Lambda-Runtime-Invoked-Function-Arn") or "")
        try:
            out = json.dumps(fn(json.loads(body or b"null"), ctx)).encode()
        except Exception as e:
            trace = traceback.format_exception(type(e), e, e.__traceback__)
            sys.stderr.write("".join(trace))
            call("POST", "/invocation/%s/error" % rid, error_body(type(e).__name__, str(e), trace),
                 {"Lambda-Runtime-Function-Error-Type": "Runtime.HandlerError"})
            continue
        call("POST", "/invocation/%s/response" % rid, out)


if __name__ == "__main__":
    main()
`

// nodeBootstrap is the Node.js base's /var/runtime/bootstrap. Like the AWS
// Node.js bases it sets NODE_PATH only when the function has not
// (https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html,
// "Layer paths for each Lambda runtime": nodejs/node_modules and
// nodejs/nodeX/node_modules; the full value is the one the AWS base
// image's bootstrap exports: the versioned layer folder, the plain one,
// the runtime's modules, the runtime, the task root).
func nodeBootstrap(major string) string {
	return fmt.Sprintf(`#!/bin/sh
if [ -z "$NODE_PATH" ]; then
  export NODE_PATH="/opt/nodejs/node%[1]s/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task"
fi
exec /var/lang/bin/node /var/runtime/lambda-runtime.cjs
`, major)
}

// nodeRuntime is the Runtime API loop of the Node.js base. Handler
// resolution follows AWS's runtime interface client
// (aws/aws-lambda-nodejs-runtime-interface-client, src/UserFunction.js):
// "dir/mod.fn.nested" names file dir/mod under the task root; an
// extensionless file is required; mod.js is required unless the nearest
// package.json (stopping at node_modules) says "type": "module"; then
// mod.js (ES module), mod.mjs (import) and mod.cjs (require) are tried in
// that order; last, require.resolve(mod) from the task root, which is where
// NODE_PATH (the layers) comes in. Errors carry Lambda's error types.
const nodeRuntime = `'use strict';
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const [apiHost, apiPort] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const taskRoot = process.env.LAMBDA_TASK_ROOT || '/var/task';

function call(method, p, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: apiHost, port: apiPort, method, path: '/2018-06-01/runtime' + p, headers: headers || {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ res, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function errorBody(type, e) {
  const message = e && e.message !== undefined ? String(e.message) : String(e);
  const stack = e && e.stack ? String(e.stack).split('\n') : [];
  return JSON.stringify({ errorType: type, errorMessage: message, trace: stack });
}

async function initError(type, e) {
  process.stderr.write('init error: ' + type + ': ' + (e && e.stack ? e.stack : e) + '\n');
  await call('POST', '/init/error', errorBody(type, e), { 'Lambda-Runtime-Function-Error-Type': type });
  process.exit(1);
}

function typeModule(dir) {
  for (;;) {
    if (dir.endsWith('/node_modules')) return false;
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try { return JSON.parse(fs.readFileSync(pj, 'utf8')).type === 'module'; } catch (e) { return false; }
    }
    if (dir === '/') return false;
    dir = path.dirname(dir);
  }
}

async function loadModule(root, mod) {
  const base = path.resolve(taskRoot, root, mod);
  if (fs.existsSync(base)) return require(base);
  const esmJs = fs.existsSync(base + '.js') && typeModule(path.dirname(base));
  if (!esmJs && fs.existsSync(base + '.js')) return require(base + '.js');
  if (esmJs) return import(pathToFileURL(base + '.js').href);
  if (fs.existsSync(base + '.mjs')) return import(pathToFileURL(base + '.mjs').href);
  if (fs.existsSync(base + '.cjs')) return require(base + '.cjs');
  return require(require.resolve(mod, { paths: [taskRoot, path.resolve(taskRoot, root)] }));
}

async function loadHandler(full) {
  if (full.includes('..')) await initError('Runtime.MalformedHandlerName', new Error("'" + full + "' is not a valid handler name."));
  const name = path.basename(full);
  const root = full.slice(0, full.length - name.length);
  const m = /^([^.]*)\.(.*)$/.exec(name);
  if (!m) await initError('Runtime.MalformedHandlerName', new Error('Bad handler'));
  let app;
  try {
    app = await loadModule(root, m[1]);
  } catch (e) {
    if (e instanceof SyntaxError) await initError('Runtime.UserCodeSyntaxError', e);
    if (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND') await initError('Runtime.ImportModuleError', e);
    await initError('Runtime.Unknown', e);
  }
  const fn = m[2].split('.').reduce((o, k) => o && o[k], app);
  if (typeof fn !== 'function') await initError('Runtime.HandlerNotFound', new Error(full + ' is undefined or not exported'));
  return fn;
}

async function main() {
  const fn = await loadHandler(process.env._HANDLER);
  for (;;) {
    const { res, body } = await call('GET', '/invocation/next');
    const id = res.headers['lambda-runtime-aws-request-id'];
    const deadline = Number(res.headers['lambda-runtime-deadline-ms'] || 0);
    const context = {
      awsRequestId: id,
      invokedFunctionArn: res.headers['lambda-runtime-invoked-function-arn'],
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    let out;
    try {
      out = JSON.stringify(await fn(JSON.parse(body || 'null'), context));
    } catch (e) {
      process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
      await call('POST', '/invocation/' + id + '/error', errorBody(e && e.name ? e.name : 'Error', e),
        { 'Lambda-Runtime-Function-Error-Type': 'Runtime.HandlerError' });
      continue;
    }
    await call('POST', '/invocation/' + id + '/response', out === undefined ? 'null' : out);
  }
}

main().catch((e) => { process.stderr.write(String(e && e.stack ? e.stack : e) + '\n'); process.exit(1); });
`

// The request the page sends, as code to copy: curl and fetch send the same bytes; Python sends the same JSON
// (requests for V1, NVIDIA's tritonclient for V2). A token appears as $SERVAL_TOKEN, never as its value.
import type { Call, Protocol } from './request.js';

export type Language = 'curl' | 'python' | 'fetch';

export interface SnippetContext {
  /** The server's origin, e.g. http://127.0.0.1:50505. */
  origin: string;
  /** Whether the server wants a bearer token. */
  auth: boolean;
  model: string;
  version?: string;
}

interface V2Input {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
}

const shellQuote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

function curl(call: Call, context: SnippetContext): string {
  return [
    `curl -X POST ${shellQuote(context.origin + call.path)}`,
    `  -H 'content-type: application/json'`,
    ...(context.auth ? [`  -H "authorization: Bearer $SERVAL_TOKEN"`] : []),
    `  -d ${shellQuote(JSON.stringify(call.body))}`,
  ].join(' \\\n');
}

function fetchSnippet(call: Call, context: SnippetContext): string {
  const auth = context.auth ? ', authorization: `Bearer ${process.env.SERVAL_TOKEN}`' : '';
  return [
    `const response = await fetch(${JSON.stringify(context.origin + call.path)}, {`,
    `  method: 'POST',`,
    `  headers: { 'content-type': 'application/json'${auth} },`,
    `  body: JSON.stringify(${JSON.stringify(call.body)}),`,
    `});`,
    `console.log(response.status, await response.json());`,
  ].join('\n');
}

/** A JSON value as a Python literal. */
export function pythonLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (Array.isArray(value)) return `[${value.map(pythonLiteral).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${pythonLiteral(v)}`).join(', ')}}`;
  }
  return JSON.stringify(value);
}

const NUMPY: Record<string, string> = {
  BOOL: 'np.bool_',
  UINT8: 'np.uint8',
  UINT16: 'np.uint16',
  UINT32: 'np.uint32',
  UINT64: 'np.uint64',
  INT8: 'np.int8',
  INT16: 'np.int16',
  INT32: 'np.int32',
  INT64: 'np.int64',
  FP16: 'np.float16',
  FP32: 'np.float32',
  FP64: 'np.float64',
  BYTES: 'np.object_',
};

const TOKEN_HEADER = '{"authorization": "Bearer " + os.environ["SERVAL_TOKEN"]}';

function pythonV1(call: Call, context: SnippetContext): string {
  return [
    ...(context.auth ? ['import os', ''] : []),
    'import requests',
    '',
    `body = ${pythonLiteral(call.body)}`,
    `response = requests.post(${JSON.stringify(context.origin + call.path)}, json=body${
      context.auth ? `, headers=${TOKEN_HEADER}` : ''
    })`,
    'print(response.status_code, response.json())',
  ].join('\n');
}

function pythonV2(call: Call, context: SnippetContext): string {
  const url = new URL(context.origin);
  const inputs = (call.body as { inputs: V2Input[] }).inputs;
  const lines = [
    ...(context.auth ? ['import os', ''] : []),
    'import numpy as np',
    'import tritonclient.http as httpclient',
    '',
    `client = httpclient.InferenceServerClient(${JSON.stringify(url.host)}${url.protocol === 'https:' ? ', ssl=True' : ''})`,
    'inputs = []',
  ];
  for (const input of inputs) {
    const dtype = NUMPY[input.datatype] ?? 'np.float32';
    lines.push(
      `x = httpclient.InferInput(${JSON.stringify(input.name)}, ${pythonLiteral(input.shape)}, ${JSON.stringify(input.datatype)})`,
      `x.set_data_from_numpy(np.array(${pythonLiteral(input.data)}, dtype=${dtype}).reshape(${pythonLiteral(input.shape)}))`,
      'inputs.append(x)',
    );
  }
  const options = [
    ...(context.version === undefined ? [] : [`model_version=${JSON.stringify(context.version)}`]),
    ...(context.auth ? [`headers=${TOKEN_HEADER}`] : []),
  ];
  lines.push(
    `result = client.infer(${[JSON.stringify(context.model), 'inputs', ...options].join(', ')})`,
    'for output in result.get_response()["outputs"]:',
    '    print(output["name"], result.as_numpy(output["name"]))',
  );
  return lines.join('\n');
}

export function snippet(language: Language, protocol: Protocol, call: Call, context: SnippetContext): string {
  if (language === 'curl') return curl(call, context);
  if (language === 'fetch') return fetchSnippet(call, context);
  return protocol === 'v1' ? pythonV1(call, context) : pythonV2(call, context);
}

// The request the page sends, as code to copy: curl and fetch send the same bytes; Python sends the same JSON
// (requests for V1, NVIDIA's tritonclient for V2). An image file is read from disk by its name, never written out
// in the code. A token appears as $SERVAL_TOKEN, never as its value.
import { toBase64, type Call, type ImageFile, type Protocol } from './request.js';

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
  parameters?: { content_type?: string };
  data: unknown[];
}

const shellQuote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
/** A file name as one shell word: as it is when nothing in it is special to the shell. */
const shellWord = (text: string) => (/^[\w./-]+$/.test(text) ? text : shellQuote(text));

/** The call's file, when the file is the whole body. */
const fileBody = (call: Call): ImageFile | undefined => (call.body === undefined ? call.file : undefined);

/** The JSON text of a body carrying the file as base64: what comes before the base64 string and after it. */
function aroundFile(call: Call, file: ImageFile): [string, string] {
  const text = JSON.stringify(call.body);
  const value = JSON.stringify(toBase64(file.bytes));
  const at = text.indexOf(value);
  return [text.slice(0, at), text.slice(at + value.length)];
}

function curl(call: Call, context: SnippetContext): string {
  const head = `curl -X POST ${shellQuote(context.origin + call.path)}`;
  const auth = context.auth ? [`  -H "authorization: Bearer $SERVAL_TOKEN"`] : [];
  const upload = fileBody(call);
  if (upload) {
    return [
      head,
      `  -H ${shellQuote(`content-type: ${upload.type}`)}`,
      ...auth,
      `  --data-binary @${shellWord(upload.name)}`,
    ].join(' \\\n');
  }
  const json = [head, `  -H 'content-type: application/json'`, ...auth];
  if (call.file) {
    // The shell writes the JSON around the file's base64 to curl's stdin: no file in the command line.
    const [before, after] = aroundFile(call, call.file);
    return [
      `{ printf %s ${shellQuote(`${before}"`)}`,
      `  base64 < ${shellWord(call.file.name)} | tr -d '\\n'`,
      `  printf %s ${shellQuote(`"${after}`)}; } |`,
      [...json, `  --data-binary @-`].join(' \\\n'),
    ].join('\n');
  }
  return [...json, `  -d ${shellQuote(JSON.stringify(call.body))}`].join(' \\\n');
}

function fetchSnippet(call: Call, context: SnippetContext): string {
  const auth = context.auth ? ', authorization: `Bearer ${process.env.SERVAL_TOKEN}`' : '';
  const upload = fileBody(call);
  const read = (file: ImageFile) => `await readFile(${JSON.stringify(file.name)})`;
  let type = 'application/json';
  let body = `JSON.stringify(${JSON.stringify(call.body)})`;
  if (upload) [type, body] = [upload.type, read(upload)];
  else if (call.file) {
    const [before, after] = aroundFile(call, call.file);
    body = `JSON.stringify(${before}(${read(call.file)}).toString('base64')${after})`;
  }
  return [
    ...(call.file ? ["import { readFile } from 'node:fs/promises';", ''] : []),
    `const response = await fetch(${JSON.stringify(context.origin + call.path)}, {`,
    `  method: 'POST',`,
    `  headers: { 'content-type': '${type}'${auth} },`,
    `  body: ${body},`,
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
  const url = JSON.stringify(context.origin + call.path);
  const upload = fileBody(call);
  if (upload) {
    const auth = context.auth ? `, "authorization": "Bearer " + os.environ["SERVAL_TOKEN"]` : '';
    return [
      ...(context.auth ? ['import os', ''] : []),
      'import requests',
      '',
      `with open(${JSON.stringify(upload.name)}, "rb") as file:`,
      `    response = requests.post(${url}, data=file, headers={"content-type": ${JSON.stringify(upload.type)}${auth}})`,
      'print(response.status_code, response.json())',
    ].join('\n');
  }
  return [
    ...(context.auth ? ['import os', ''] : []),
    'import requests',
    '',
    `body = ${pythonLiteral(call.body)}`,
    `response = requests.post(${url}, json=body${context.auth ? `, headers=${TOKEN_HEADER}` : ''})`,
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
    if (call.file && input.parameters?.content_type === 'base64') {
      // tritonclient sends the file's bytes as a binary BYTES element.
      lines.push(
        `with open(${JSON.stringify(call.file.name)}, "rb") as file:`,
        `    x = httpclient.InferInput(${JSON.stringify(input.name)}, ${pythonLiteral(input.shape)}, "BYTES")`,
        '    x.set_data_from_numpy(np.array([file.read()], dtype=np.object_))',
        'inputs.append(x)',
      );
      continue;
    }
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

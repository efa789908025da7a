// Open Inference Protocol bodies for tests: binary requests as tritonclient builds them, and binary responses read
// back as tritonclient reads them (the JSON header's length from Inference-Header-Content-Length).
export interface BinaryInput {
  name: string;
  datatype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** Raw little-endian bytes of a typed array, or 4-byte-length-prefixed UTF-8 strings for BYTES. */
export function rawBytes(data: ArrayBufferView | string[]): Uint8Array {
  if (Array.isArray(data)) {
    return Buffer.concat(
      data.flatMap((s) => {
        const bytes = Buffer.from(s, 'utf8');
        const length = Buffer.alloc(4);
        length.writeUInt32LE(bytes.length);
        return [length, bytes];
      }),
    );
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** A binary inference request: the JSON header, then each input's bytes in order. */
export function binaryRequest(
  inputs: BinaryInput[],
  rest: { outputs?: unknown[]; parameters?: Record<string, unknown>; id?: string } = {},
): { payload: Buffer; headers: Record<string, string> } {
  const header = Buffer.from(
    JSON.stringify({
      ...rest,
      inputs: inputs.map(({ name, datatype, shape, bytes }) => ({
        name,
        datatype,
        shape,
        parameters: { binary_data_size: bytes.length },
      })),
    }),
  );
  return {
    payload: Buffer.concat([header, ...inputs.map((i) => i.bytes)]),
    headers: { 'inference-header-content-length': String(header.length) },
  };
}

export interface ResponseOutput {
  name: string;
  datatype: string;
  shape: number[];
  data?: unknown[];
  parameters?: { binary_data_size?: number };
  /** The output's binary data, when it came as binary. */
  bytes?: Buffer;
}

/** Splits a response body into its JSON header and each binary output's bytes, as tritonclient does. */
export function readResponse(
  body: Buffer,
  headerLength: string | string[] | number | undefined,
): { json: Record<string, unknown> & { outputs: ResponseOutput[] }; binary: number } {
  const length = headerLength === undefined ? body.length : Number(headerLength);
  const json = JSON.parse(body.subarray(0, length).toString('utf8')) as Record<string, unknown> & {
    outputs: ResponseOutput[];
  };
  let offset = length;
  for (const output of json.outputs) {
    const size = output.parameters?.binary_data_size;
    if (size === undefined) continue;
    output.bytes = body.subarray(offset, offset + size);
    offset += size;
  }
  if (offset !== body.length) throw new Error(`${body.length - offset} bytes left after the outputs`);
  return { json, binary: body.length - length };
}

/** Decodes 4-byte-length-prefixed BYTES elements. */
export function strings(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at < bytes.length;) {
    const length = bytes.readUInt32LE(at);
    out.push(bytes.subarray(at + 4, at + 4 + length).toString('utf8'));
    at += 4 + length;
  }
  return out;
}

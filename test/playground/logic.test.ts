// The playground's pure parts: CSV pastes, base64, the code snippets, Prometheus text and Triton's statistics.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countersFor, parsePrometheus, quantile } from '../../src/playground/counters.js';
import { cells, parseCsv } from '../../src/playground/csv.js';
import { parseValue, type Plan } from '../../src/playground/plan.js';
import { prepare, toBase64 } from '../../src/playground/request.js';
import { pythonLiteral, snippet } from '../../src/playground/snippets.js';

const IRIS = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'].map((key) => ({
  key,
  datatype: 'FP32',
}));

describe('field values', () => {
  it('sends numbers as numbers and anything else as the text it is, for the API to judge', () => {
    assert.equal(parseValue(' 5.1 ', 'FP32'), 5.1);
    assert.equal(parseValue('1e39', 'FP32'), 1e39);
    assert.equal(parseValue('.5', 'FP32'), 0.5);
    assert.equal(parseValue('abc', 'FP32'), 'abc');
    assert.equal(parseValue('', 'INT64'), '');
    assert.equal(parseValue('0x10', 'INT64'), '0x10');
    assert.equal(parseValue(' FR ', 'BYTES'), ' FR ');
    assert.equal(parseValue('true', 'BOOL'), true);
    assert.equal(parseValue('0', 'BOOL'), false);
  });
});

describe('pasted CSV rows', () => {
  it('reads rows in the features order, or in the order a header line names', () => {
    assert.deepEqual(parseCsv('5.1,3.5,1.4,0.2\n\n6.7, 3.0, 5.2, 2.3\n', IRIS), {
      columns: IRIS.map((f) => f.key),
      rows: [
        [5.1, 3.5, 1.4, 0.2],
        [6.7, 3, 5.2, 2.3],
      ],
    });
    assert.deepEqual(parseCsv('petal_width;petal_length;sepal_width;sepal_length\r\n0.2;1.4;3.5;5.1', IRIS), {
      columns: ['petal_width', 'petal_length', 'sepal_width', 'sepal_length'],
      rows: [[0.2, 1.4, 3.5, 5.1]],
    });
    assert.deepEqual(parseCsv('1\t2\tx\t4', IRIS).rows, [[1, 2, 'x', 4]]);
  });

  it('keeps quoted separators and quotes', () => {
    assert.deepEqual(cells('"a,b", "say ""hi""",c', ','), ['a,b', 'say "hi"', 'c']);
  });

  it('says what is missing in an empty paste', () => {
    assert.throws(() => parseCsv(' \n', IRIS), /at least one row/);
    assert.throws(() => parseCsv('sepal_length,sepal_width,petal_length,petal_width', IRIS), /no rows/);
  });
});

describe('base64', () => {
  it("writes what Node's Buffer writes, past the page's chunk of 32 KiB too", () => {
    for (const length of [0, 1, 2, 3, 4, 5, 0x8000 - 1, 0x8000, 0x8000 * 2 + 7]) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 7919 + length) % 256);
      assert.equal(toBase64(bytes), Buffer.from(bytes).toString('base64'), `${length} bytes`);
    }
  });
});

describe('the request as code', () => {
  const context = { origin: 'http://127.0.0.1:50505', auth: false, model: 'fraud' };
  const v1 = {
    path: '/v1/models/fraud:predict',
    body: { instances: [{ amount: [9.5], items: [1], country: ["O'Hare"] }] },
  };
  const v2 = {
    path: '/v2/models/fraud/infer',
    body: {
      inputs: [
        { name: 'amount', shape: [1, 1], datatype: 'FP32', data: [9.5] },
        { name: 'country', shape: [1, 1], datatype: 'BYTES', data: ["O'Hare"] },
      ],
    },
  };

  it('curl sends the same bytes, quoted for a POSIX shell', () => {
    const text = snippet('curl', 'v1', v1, context);
    assert.equal(
      text,
      [
        "curl -X POST 'http://127.0.0.1:50505/v1/models/fraud:predict' \\",
        "  -H 'content-type: application/json' \\",
        `  -d '${JSON.stringify(v1.body).replace("'", "'\\''")}'`,
      ].join('\n'),
    );
  });

  it('fetch sends the same JSON text', () => {
    const text = snippet('fetch', 'v2', v2, context);
    assert.ok(text.includes(`body: JSON.stringify(${JSON.stringify(v2.body)}),`));
    assert.ok(text.includes('"http://127.0.0.1:50505/v2/models/fraud/infer"'));
  });

  it('Python uses requests for V1 and tritonclient for V2, with numpy dtypes', () => {
    assert.match(
      snippet('python', 'v1', v1, context),
      /requests\.post\("http:\/\/127\.0\.0\.1:50505\/v1\/models\/fraud:predict", json=body\)/,
    );
    const triton = snippet('python', 'v2', v2, { ...context, version: '1' });
    assert.match(triton, /InferenceServerClient\("127\.0\.0\.1:50505"\)/);
    assert.match(triton, /InferInput\("amount", \[1, 1\], "FP32"\)/);
    assert.match(triton, /np\.array\(\[9\.5\], dtype=np\.float32\)\.reshape\(\[1, 1\]\)/);
    assert.match(triton, /np\.array\(\["O'Hare"\], dtype=np\.object_\)/);
    assert.match(triton, /client\.infer\("fraud", inputs, model_version="1"\)/);
  });

  it('names the token as $SERVAL_TOKEN when the server wants one, never its value', () => {
    const auth = { ...context, auth: true };
    assert.match(snippet('curl', 'v1', v1, auth), /-H "authorization: Bearer \$SERVAL_TOKEN"/);
    assert.match(snippet('fetch', 'v1', v1, auth), /Bearer \$\{process\.env\.SERVAL_TOKEN\}/);
    assert.match(snippet('python', 'v2', v2, auth), /os\.environ\["SERVAL_TOKEN"\]/);
  });

  describe('for an image file', () => {
    const plan: Plan = {
      kind: 'file',
      input: { name: 'image', datatype: 'FP32', shape: [-1, 1, 8, 8] },
      height: 8,
      width: 8,
    };
    const file = { name: 'digit.png', type: 'image/png', bytes: Uint8Array.from([137, 80, 78, 71]) };
    const cnn = { ...context, model: 'digits-cnn' };
    const { v1, v2 } = prepare(plan, { kind: 'file', file }, 'digits-cnn');

    it('curl sends the file as the body with its own type, read from disk by its name', () => {
      assert.equal(
        snippet('curl', 'v1', v1, cnn),
        [
          "curl -X POST 'http://127.0.0.1:50505/v1/models/digits-cnn:predict' \\",
          "  -H 'content-type: image/png' \\",
          '  --data-binary @digit.png',
        ].join('\n'),
      );
      const odd = prepare(plan, { kind: 'file', file: { ...file, name: "it's 9.png" } }, 'digits-cnn');
      assert.match(snippet('curl', 'v1', odd.v1, cnn), /--data-binary @'it'\\''s 9\.png'$/);
    });

    it('fetch and Python send the file from disk too, never its bytes written out', () => {
      const fetch = snippet('fetch', 'v1', v1, cnn);
      assert.match(fetch, /headers: \{ 'content-type': 'image\/png' \}/);
      assert.match(fetch, /body: await readFile\("digit\.png"\),/);
      const python = snippet('python', 'v1', v1, cnn);
      assert.match(python, /with open\("digit\.png", "rb"\) as file:/);
      assert.match(
        python,
        /requests\.post\(".*:predict", data=file, headers=\{"content-type": "image\/png"\}\)/,
      );
      for (const text of [fetch, python]) assert.ok(!text.includes(toBase64(file.bytes)));
    });

    it('V2 puts the base64 of the file from disk in the JSON: the shell, fetch and tritonclient alike', () => {
      const shell = snippet('curl', 'v2', v2, cnn);
      const json =
        '{"inputs":[{"name":"image","shape":[1],"datatype":"BYTES","parameters":{"content_type":"base64"},"data":["';
      assert.equal(
        shell,
        [
          `{ printf %s '${json}'`,
          "  base64 < digit.png | tr -d '\\n'",
          `  printf %s '"]}]}'; } |`,
          "curl -X POST 'http://127.0.0.1:50505/v2/models/digits-cnn/infer' \\",
          "  -H 'content-type: application/json' \\",
          '  --data-binary @-',
        ].join('\n'),
      );
      const fetch = snippet('fetch', 'v2', v2, cnn);
      assert.match(fetch, /"data":\[\(await readFile\("digit\.png"\)\)\.toString\('base64'\)\]/);
      const triton = snippet('python', 'v2', v2, cnn);
      assert.match(triton, /InferInput\("image", \[1\], "BYTES"\)/);
      assert.match(triton, /np\.array\(\[file\.read\(\)\], dtype=np\.object_\)/);
      for (const text of [shell, fetch, triton]) assert.ok(!text.includes(toBase64(file.bytes)));
    });
  });

  it('writes JSON values as Python literals', () => {
    assert.equal(
      pythonLiteral({ a: [true, false, null, 1.5, 'x"y'] }),
      '{"a": [True, False, None, 1.5, "x\\"y"]}',
    );
  });
});

describe('live counters', () => {
  const text = [
    '# HELP serval_inference_request_duration_seconds Request latency',
    '# TYPE serval_inference_request_duration_seconds histogram',
    ...[
      ['0.001', 10],
      ['0.005', 90],
      ['0.01', 99],
      ['+Inf', 100],
    ].flatMap(([le, n]) => [
      `serval_inference_request_duration_seconds_bucket{model="iris",version="1",protocol="v1",le="${le}"} ${Number(n) / 2}`,
      `serval_inference_request_duration_seconds_bucket{model="iris",version="1",protocol="v2",le="${le}"} ${Number(n) / 2}`,
    ]),
    'serval_inference_request_duration_seconds_sum{model="iris",version="1",protocol="v1"} 0.15',
    'serval_inference_request_duration_seconds_count{model="iris",version="1",protocol="v1"} 50',
    'serval_inference_request_duration_seconds_sum{model="iris",version="1",protocol="v2"} 0.15',
    'serval_inference_request_duration_seconds_count{model="iris",version="1",protocol="v2"} 50',
    'serval_cache_requests_total{result="hit"} 30',
    'serval_cache_requests_total{result="miss"} 10',
  ].join('\n');

  it('parses Prometheus text, labels and +Inf included', () => {
    const samples = parsePrometheus(`${text}\nmalformed line\nx{a="q\\"uote"} 1 1700000000`);
    assert.equal(samples.length, 15);
    assert.deepEqual(samples.at(-1), { name: 'x', labels: { a: 'q"uote' }, value: 1 });
    assert.equal(samples.find((s) => s.labels.le === '+Inf')?.value, 50);
  });

  it('computes quantiles as histogram_quantile does', () => {
    const buckets = [
      { le: 0.001, count: 10 },
      { le: 0.005, count: 90 },
      { le: 0.01, count: 99 },
      { le: Infinity, count: 100 },
    ];
    assert.equal(quantile(0.5, buckets), 0.001 + 0.004 * (40 / 80));
    assert.equal(quantile(0.99, buckets), 0.01);
    assert.equal(quantile(0.999, buckets), 0.01, 'the +Inf bucket answers the highest finite bound');
    assert.equal(quantile(0.5, [{ le: Infinity, count: 0 }]), undefined);
  });

  it('takes requests and mean latency from Triton statistics, p50/p99 and cache hits from Prometheus', () => {
    const stats = {
      model_stats: [
        {
          name: 'iris',
          version: '1',
          inference_count: 120,
          execution_count: 40,
          inference_stats: { success: { count: 98, ns: 98 * 2_500_000 }, fail: { count: 2, ns: 1000 } },
        },
      ],
    };
    const counters = countersFor(stats, parsePrometheus(text), 'iris', '1');
    assert.ok(counters);
    assert.equal(counters.requests, 100);
    assert.equal(counters.failures, 2);
    assert.equal(counters.meanMs, 2.5);
    assert.ok(Math.abs((counters.p50Ms ?? 0) - 3) < 1e-9);
    assert.ok(Math.abs((counters.p99Ms ?? 0) - 10) < 1e-9);
    assert.equal(counters.cacheHitRatio, 0.75);
  });

  it('shows what it can from either source alone, and nothing for a model neither knows', () => {
    const fromText = countersFor(undefined, parsePrometheus(text), 'iris', '1');
    assert.ok(fromText);
    assert.equal(fromText.requests, 100);
    assert.ok(Math.abs((fromText.meanMs ?? 0) - 3) < 1e-9);
    const fromStats = countersFor(
      { model_stats: [{ name: 'iris', version: '1', inference_count: 5 }] },
      undefined,
      'iris',
      '1',
    );
    assert.deepEqual(fromStats, { requests: 5 });
    assert.equal(countersFor(undefined, parsePrometheus(text), 'digits', '1'), undefined);
    assert.equal(countersFor(undefined, undefined, 'iris', '1'), undefined);
  });
});

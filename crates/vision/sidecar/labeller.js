// PeakReel's vision sidecar: one long-lived node process that keeps the object detector
// (COCO CenterNet) and the face detector (BlazeFace) of @vladmandic/human loaded and
// answers one JSON request per stdin line with one JSON line on stdout.
//
// Request:  {"id": N, "op": "objects" | "faces", "width": W, "height": H, "rgb": BASE64}
//           (rgb: W*H*3 bytes of sRGB, row-major)
// Answer:   {"id": N, "detections": [{"label": "oven", "score": 0.44, "box": [x, y, w, h]}]}
//           (box in 0..1 of the picture) or {"id": N, "error": "..."}
// The first line written is {"ready": true, "backend": "wasm"} once the models are loaded.
//
// The models and the WebAssembly kernels are read from the npm package directory given in
// PEAKREEL_VISION_MODULES; fetch is replaced so that nothing can be loaded from a network.
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');

const modules = process.env.PEAKREEL_VISION_MODULES;
if (!modules) {
  process.stdout.write(JSON.stringify({ error: 'PEAKREEL_VISION_MODULES is not set' }) + '\n');
  process.exit(2);
}
const modelsDir = path.join(modules, '@vladmandic', 'human', 'models');
const wasmDir = path.join(modules, '@tensorflow', 'tfjs-backend-wasm', 'dist') + path.sep;

// Human loads models and wasm through fetch; only files under the package directory are
// served, anything else is refused.
globalThis.fetch = async (url) => {
  const s = String(url);
  const file = path.resolve(s.startsWith('file://') ? s.slice('file://'.length) : s);
  if (!file.startsWith(path.resolve(modules) + path.sep)) {
    throw new Error(`refusing to fetch ${s}: only the package's own files are read`);
  }
  return new Response(fs.readFileSync(file), { status: 200 });
};

// Human logs through console.log; stdout carries only answers.
console.log = (...args) => process.stderr.write(args.join(' ') + '\n');

const { Human } = require(path.join(modules, '@vladmandic', 'human', 'dist', 'human.node-wasm.js'));

const off = { enabled: false };
const human = new Human({
  backend: 'wasm',
  wasmPath: wasmDir,
  modelBasePath: 'file://' + modelsDir + path.sep,
  debug: false,
  async: false,
  warmup: 'none',
  cacheSensitivity: 0,
  filter: off,
  body: off,
  hand: off,
  gesture: off,
  segmentation: off,
  object: { enabled: true, minConfidence: 0.2, maxDetected: 20, iouThreshold: 0.4 },
  face: {
    enabled: true,
    detector: { rotation: false, maxDetected: 5, minConfidence: 0.3, return: false },
    mesh: off, attention: off, iris: off, description: off, emotion: off, antispoof: off, liveness: off,
  },
});

function toTensor(req) {
  const rgb = Buffer.from(req.rgb, 'base64');
  if (rgb.length !== req.width * req.height * 3) {
    throw new Error(`rgb holds ${rgb.length} bytes, not ${req.width}x${req.height}x3`);
  }
  return human.tf.tensor4d(new Uint8Array(rgb), [1, req.height, req.width, 3], 'int32');
}

async function answer(req) {
  const input = toTensor(req);
  try {
    // One model per request: the other is switched off so its time is not spent.
    const objects = req.op === 'objects';
    if (!objects && req.op !== 'faces') throw new Error(`unknown op ${req.op}`);
    const result = await human.detect(input, { object: { enabled: objects }, face: { enabled: !objects } });
    const [w, h] = [req.width, req.height];
    const boxes = objects
      ? result.object.map((o) => ({ label: o.label, score: o.score, box: o.boxRaw }))
      : result.face.map((f) => ({ label: 'face', score: f.boxScore ?? f.score, box: f.boxRaw }));
    return boxes.map((d) => ({
      label: d.label,
      score: Math.round(d.score * 1000) / 1000,
      box: d.box ? d.box.map((v) => Math.min(1, Math.max(0, v))) : [0, 0, 1, 1],
    })).filter(() => w > 0 && h > 0);
  } finally {
    human.tf.dispose(input);
  }
}

async function main() {
  await human.load();
  process.stdout.write(JSON.stringify({ ready: true, backend: human.tf.getBackend() }) + '\n');
  const lines = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let id = null;
    let reply;
    try {
      const req = JSON.parse(line);
      id = req.id;
      reply = { id, detections: await answer(req) };
    } catch (e) {
      reply = { id, error: String(e && e.message ? e.message : e) };
    }
    process.stdout.write(JSON.stringify(reply) + '\n');
  }
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ error: String(e && e.message ? e.message : e) }) + '\n');
  process.exit(1);
});

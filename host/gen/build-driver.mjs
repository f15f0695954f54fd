// Builds the guest driver: assembly/index.ts -> build/driver.wasm + build/driver.wat with asc
// (asconfig.json, target "release": optimized, --runtime stub, initialMemory == maximumMemory),
// and the responder (target "responder": the driver with assembly/responder/ linked in, its
// receive path aliased to the responder's stack_input) -> build/responder.wasm + .wat.
// A transform adds the export heap_top(): the stub runtime's bump pointer (~lib/rt/stub/offset),
// read directly, so a test can show that nothing is allocated after instantiation.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const STUB_OFFSET = "~lib/rt/stub/offset";

class HeapTopExport {
  afterCompile(module) {
    const b = this.binaryen;
    if (!module.getGlobal(STUB_OFFSET)) {
      throw new Error(`global ${STUB_OFFSET} not found: is asconfig.json still "runtime": "stub"?`);
    }
    module.addFunction("heap_top", b.none, b.i32, [], module.global.get(STUB_OFFSET, b.i32));
    module.addFunctionExport("heap_top", "heap_top");
  }
}

const config = JSON.parse(readFileSync(join(root, "asconfig.json"), "utf8"));
if (config.options.initialMemory !== config.options.maximumMemory) {
  console.error("build-driver: asconfig.json initialMemory must equal maximumMemory");
  process.exit(1);
}

const stream = (sink) => ({ write(chunk) { sink.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString()); return true; } });

async function build(target, extraEntries, outName) {
  const out = [];
  const err = [];
  const { error } = await asc.main([...extraEntries, "--config", "asconfig.json", "--target", target, "--baseDir", root, "--noColors"], {
    stdout: stream(out),
    stderr: stream(err),
    transforms: [HeapTopExport],
  });
  const diagnostics = err.join("");
  if (error) {
    console.error(`build-driver: AssemblyScript compile of ${["assembly/index.ts", ...extraEntries].join(" + ")} FAILED\n`);
    console.error(diagnostics || String(error));
    process.exit(1);
  }
  if (/WARNING/.test(diagnostics)) {
    console.error(`build-driver: ${outName} compiled with warnings (fix them):\n`);
    console.error(diagnostics);
    process.exit(1);
  }
  if (out.length) process.stdout.write(out.join(""));
  const wasm = readFileSync(join(root, "build", `${outName}.wasm`));
  console.log(`build-driver: build/${outName}.wasm ${wasm.length} bytes, build/${outName}.wat`);
}

await build("release", [], "driver");
await build("responder", ["assembly/responder/index.ts"], "responder");

// Where the project's files are, whether this module runs from host/ (tests) or dist/host/ (CLI).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).name === "virtio-rt") return dir;
    dir = dirname(dir);
  }
  throw new Error("cannot find the virtio-rt package root above " + fileURLToPath(import.meta.url));
}

export const PROJECT_ROOT = findRoot();
export const DEFAULT_DRIVER_PATH = join(PROJECT_ROOT, "build", "driver.wasm");

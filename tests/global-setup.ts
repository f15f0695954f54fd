// Runs once per `vitest run`: make sure the generated constants exist (npm test builds everything
// first through `pretest`; this keeps `npx vitest` on a single file working too).
import { execFileSync } from "node:child_process";

export default function setup(): void {
  execFileSync(process.execPath, ["host/gen/gen-constants.mjs"], { stdio: "inherit" });
}

// The pinned-digest file shared by the determinism test and `npm run digests`.
import { join } from "node:path";
import { PROJECT_ROOT } from "../paths.js";

export interface PinnedDigest {
  name: string;
  scenario: Record<string, unknown>;
  digest: string;
}

export const DIGESTS_FILE = join(PROJECT_ROOT, "tests", "e2e", "digests.json");

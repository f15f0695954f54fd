// Helpers shared by the `virtio-rt` subcommands: argument parsers and the one-line failure.
import { InvalidArgumentError } from "commander";

/** A commander parser for a non-negative integer flag up to `max`. */
export function intArg(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) > max) throw new InvalidArgumentError(`${name} must be an integer from 0 to ${max}`);
    return Number(v);
  };
}

/** Print one line on stderr and exit 2 (bad input: a flag, a file, a module). */
export function fail(message: string): never {
  process.stderr.write(`virtio-rt: ${message}\n`);
  process.exit(2);
}

// Seeded randomness for everything simulated: one generator per purpose, derived from a seed.
import prand from "pure-rand";

/** A small seeded generator (xoroshiro128+ from pure-rand). The same seed gives the same stream. */
export class Rng {
  private gen: prand.RandomGenerator;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
    this.gen = prand.xoroshiro128plus(seed | 0);
  }

  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return prand.unsafeUniformIntDistribution(min, max, this.gen);
  }

  /** A float in [0, 1). */
  float(): number {
    return this.int(0, 0x3fffffff) / 0x40000000;
  }

  /** Fill `out` with random bytes. */
  bytes(out: Uint8Array): Uint8Array {
    for (let i = 0; i < out.length; i += 4) {
      let v = this.int(0, 0xffffffff) >>> 0;
      for (let j = 0; j < 4 && i + j < out.length; j++, v >>>= 8) out[i + j] = v & 0xff;
    }
    return out;
  }
}

// Network byte order and the Internet checksum (RFC 1071) over linear memory, for the responder.

/** Big-endian 16-bit load. */
// @ts-ignore: decorator
@inline export function be16(p: u32): u32 {
  return (<u32>load<u8>(p) << 8) | <u32>load<u8>(p + 1);
}

/** Big-endian 32-bit load (an IPv4 address reads as a.b.c.d = a << 24 | ...). */
// @ts-ignore: decorator
@inline export function be32(p: u32): u32 {
  return bswap<u32>(load<u32>(p));
}

// @ts-ignore: decorator
@inline export function put16(p: u32, v: u32): void {
  store<u8>(p, <u8>(v >> 8));
  store<u8>(p + 1, <u8>v);
}

// @ts-ignore: decorator
@inline export function put32(p: u32, v: u32): void {
  store<u32>(p, bswap<u32>(v));
}

/**
 * One's-complement sum of `len` bytes at `p` added to `acc` (not folded). Bounded by `len`,
 * which every caller has checked against the frame it came from (at most 65535 + 14 bytes).
 */
export function csum_add(acc: u32, p: u32, len: u32): u32 {
  let i: u32 = 0;
  // A u32 accumulator cannot overflow: 65552 / 2 words of at most 0xffff.
  while (i + 1 < len) {
    acc += be16(p + i);
    i += 2;
  }
  if (i < len) acc += <u32>load<u8>(p + i) << 8;
  return acc;
}

/** Fold carries and complement: the value to store in a checksum field. */
export function csum_fold(acc: u32): u32 {
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  return ~acc & 0xffff;
}

/** The sum over a received header or message including its checksum field is 0 when valid. */
// @ts-ignore: decorator
@inline export function csum_ok(p: u32, len: u32): bool {
  return csum_fold(csum_add(0, p, len)) == 0;
}

/** The IPv4 pseudo-header of UDP (RFC 768): source, destination, zero + protocol, UDP length. */
export function csum_pseudo(src: u32, dst: u32, proto: u32, len: u32): u32 {
  return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
}

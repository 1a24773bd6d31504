/**
 * Standard CRC-32 (IEEE 802.3 / zlib / PNG: reflected polynomial 0xEDB88320, initial and final
 * XOR 0xFFFFFFFF), table-driven. Node 20 has no zlib.crc32. Used by mt_mode=hash.
 *
 * Kamailio XORs a *signed* char into the table index, so for bytes ≥ 0x80 its result is
 * undefined behaviour; we hash the UTF-8 bytes with the standard algorithm (docs/kamailio-differences.md R6). For
 * ASCII input both agree.
 */

const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of bytes, or of a string's UTF-8 encoding. Unsigned 32-bit result. */
export function crc32(data: Uint8Array | string): number {
  if (typeof data === 'string') return crc32String(data);
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    c = (TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

function crc32String(s: string): number {
  // Fast path without allocating: Call-IDs and user parts are nearly always ASCII.
  let c = 0xffffffff;
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code >= 0x80) return crc32(Buffer.from(s, 'utf8'));
    c = (TABLE[(c ^ code) & 0xff] as number) ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

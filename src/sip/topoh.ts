/**
 * topoh Call-ID unmasking without Kamailio. topoh encodes a Call-ID as
 * prefix + base64 with a key-shuffled alphabet and `*` padding; sipcapture (topoh_unmask=1)
 * stores the decoded value. Pure functions: key and prefix in, bytes out.
 */
import { createHash } from 'node:crypto';

const BASE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-';
const PAD = 0x2a; // '*'
/** 5.6.3 copies the decoded Call-ID into a 256-byte static buffer; longer results are errors. */
const MAX_DECODED = 255;

/** CRC-16/X-25 (Kamailio crcitt_string): reflected 0x8408, init 0xFFFF, final xor 0xFFFF. */
export function crc16x25(data: Uint8Array): number {
  let crc = 0xffff;
  for (const b of data) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0x8408 : crc >>> 1;
  }
  return (crc ^ 0xffff) & 0xffff;
}

/** The 64-character alphabet th_shuffle builds from the key. */
export function topohAlphabet(key: string | Uint8Array): string {
  const k = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
  if (k.length === 0) throw new RangeError('topoh mask key must not be empty');
  const md5 = createHash('md5').update(k).update(k).digest();
  const m = [md5.readUInt32LE(0), md5.readUInt32LE(4), md5.readUInt32LE(8), md5.readUInt32LE(12)];
  const crc = crc16x25(k);
  const a = BASE_ALPHABET.split('');
  for (let last = 64; last > 1; last--) {
    const i = crc + last + k.length;
    const signedKeyByte = ((k[i % k.length] as number) << 24) >> 24; // C char is signed on x86
    const r = ((((m[i % 4] as number) + signedKeyByte) >>> 0) % last) | 0;
    const tmp = a[r] as string;
    a[r] = a[last - 1] as string;
    a[last - 1] = tmp;
  }
  return a.join('');
}

export interface TopohCodec {
  readonly alphabet: string;
  readonly prefix: string;
  /** th_mask_encode: prefix + encoded bytes (for tests and tools). */
  mask(callid: Uint8Array | string): string;
  /**
   * sipcapture's unmask: the decoded bytes, or null when the value is not masked
   * (no prefix / not longer than the prefix) or does not decode.
   */
  unmask(callid: Uint8Array | string): Buffer | null;
}

const codecs = new Map<string, TopohCodec>();

/** A codec for (key, prefix); cached, since the alphabet costs an MD5. */
export function topohCodec(key: string, prefix: string): TopohCodec {
  const cacheKey = `${key}\u0000${prefix}`;
  const cached = codecs.get(cacheKey);
  if (cached !== undefined) return cached;
  const alphabet = topohAlphabet(key);
  const enc = Buffer.from(alphabet, 'latin1');
  const dec = new Int16Array(256).fill(-1);
  for (let i = 0; i < 64; i++) dec[enc[i] as number] = i;
  const pre = Buffer.from(prefix, 'utf8');

  const codec: TopohCodec = {
    alphabet,
    prefix,
    mask(callid) {
      const input = typeof callid === 'string' ? Buffer.from(callid, 'utf8') : callid;
      const out: number[] = [...pre];
      for (let idx = 0; idx < input.length; idx += 3) {
        const left = Math.min(input.length - idx - 1, 2);
        let block = 0;
        for (let i = 0, r = 16; i <= left; i++, r -= 8) block += (input[idx + i] as number) << r;
        out.push(enc[(block >> 18) & 0x3f] as number, enc[(block >> 12) & 0x3f] as number);
        out.push(left > 0 ? (enc[(block >> 6) & 0x3f] as number) : PAD);
        out.push(left > 1 ? (enc[block & 0x3f] as number) : PAD);
      }
      return Buffer.from(out).toString('latin1');
    },
    unmask(callid) {
      const input = typeof callid === 'string' ? Buffer.from(callid, 'utf8') : callid;
      const ilen = input.length;
      const plen = pre.length;
      if (plen > 0) {
        if (ilen <= plen) return null;
        for (let i = 0; i < plen; i++) if (input[i] !== pre[i]) return null;
      }
      let n = 0;
      for (let i = ilen - 1; i >= 0 && input[i] === PAD; i--) n++;
      const olen = (((ilen - plen) * 6) >> 3) - n;
      if (olen <= 0 || olen > MAX_DECODED) return null;
      const out = Buffer.alloc(olen);
      const end = ilen - n;
      for (let i = plen, idx = 0; i < end; idx += 3) {
        let block = 0;
        for (let j = 0; j < 4 && i < end; j++) {
          const c = dec[input[i++] as number] as number;
          if (c < 0) return null;
          block += c << (18 - 6 * j);
        }
        for (let j = 0, sh = 16; j < 3 && idx + j < olen; j++, sh -= 8) out[idx + j] = (block >> sh) & 0xff;
      }
      return out;
    },
  };
  codecs.set(cacheKey, codec);
  return codec;
}

/**
 * Decoded HEP packets (v1, v2, v3). Decoding is pure: bytes in, a HepPacket or a HepError out.
 */

/** One HEP3 chunk as received, kept for hooks (`hep(0x0002)`) and later features. */
export interface HepChunk {
  vendor: number;
  type: number;
  /** Chunk data (without the 6-byte chunk header); a view into the packet buffer. */
  data: Buffer;
}

export interface HepPacket {
  version: 1 | 2 | 3;
  /** Address family: 2 or 10 (for v3 the family of the address chunks present). */
  family: 2 | 10;
  /** IP protocol number (17 UDP, 6 TCP, 132 SCTP, 22 "TLS" …). */
  ipProto: number;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  /** Timestamp seconds; 0 when absent (v1, or v3 without chunk 0x0009). */
  tsSec: number;
  /** Timestamp microseconds; 0 when absent. */
  tsUsec: number;
  /** Capture agent id; 0 when absent. */
  captureId: number;
  /** HEP protocol type (chunk 0x000b); 1 for v1/v2. */
  protoType: number;
  /** The captured payload (chunk 0x000f, or 0x0010 inflated). A view into the input for 0x000f. */
  payload: Buffer;
  /** True when the payload came from chunk 0x0010 and was inflated. */
  compressed: boolean;
  /** Chunk 0x0011 by chunk length, or null. */
  correlationId: string | null;
  /** Chunk 0x000e, or null. Not checked here (see the auth-key option). */
  authKey: string | null;
  /** Every chunk in order (v3 only; empty for v1/v2). */
  chunks: HepChunk[];
}

/** Why a packet was rejected; `code` is stable (tests and logs), `message` is for humans. */
export interface HepError {
  code: HepErrorCode;
  message: string;
  /** The chunk type concerned, for chunk errors (`missing_chunk`, `bad_chunk_size`, …). */
  chunkType?: number;
}

export type HepErrorCode =
  | 'too_short'
  | 'bad_version'
  | 'bad_family'
  | 'bad_length'
  | 'bad_chunk_length'
  | 'bad_chunk_size'
  | 'missing_chunk'
  | 'address_family_mismatch'
  | 'bad_compressed_payload'
  /** A 0x0010 payload that inflates to more than a HEP payload can be (65,535 bytes). */
  | 'payload_too_large'
  | 'no_payload'
  /** A vendor-0 chunk with type 0 (invalid in every HEP3 revision; Kamailio drops the packet). */
  | 'bad_chunk_type';

export type HepDecodeResult = { ok: true; packet: HepPacket } | { ok: false; error: HepError };

/**
 * HEP wire constants: HEP3 rev 37 generic chunk types and protocol types,
 * HEP v1/v2 header sizes.
 */

/** `HEP3` as a big-endian u32. */
export const HEP3_MAGIC = 0x48455033;
/** `EEP1`: accepted as HEP v3 (Kamailio's hook paths and `$hep(version)` do the same). */
export const EEP1_MAGIC = 0x45455031;
/** `HEP3` as bytes, for stream scanning. */
export const HEP3_MAGIC_BYTES: Buffer = Buffer.from('HEP3', 'latin1');

/** HEP3 control header: 4-byte magic + u16 total length (the total includes these 6 bytes). */
export const HEP3_HEADER_LENGTH = 6;
/** HEP3 chunk header: u16 vendor + u16 type + u16 length (the length includes these 6 bytes). */
export const HEP3_CHUNK_HEADER_LENGTH = 6;
/** Largest value the u16 total-length field can carry. */
export const HEP3_MAX_LENGTH = 0xffff;

/** Linux address family values used on the wire by v1/v2 headers and chunk 0x0001. */
export const AF_INET = 2;
export const AF_INET6 = 10;

/** Bytes before the addresses in a v1/v2 header: version, hdr len, family, proto, 2 ports. */
export const HEP_V1V2_FIXED_LENGTH = 8;
/** v2 time block: u32 tv_sec, u32 tv_usec, u16 capture id, 2 bytes struct padding. */
export const HEP_V2_TIME_BLOCK_LENGTH = 12;

/** Vendor ids (rev 37). Chunks with vendor ≠ GENERIC are kept but not interpreted. */
export const HepVendor = {
  GENERIC: 0x0000,
  FREESWITCH: 0x0001,
  KAMAILIO: 0x0002,
  OPENSIPS: 0x0003,
  ASTERISK: 0x0004,
  HOMER: 0x0005,
  SIPXECS: 0x0006,
  YETI: 0x0007,
  GENESYS: 0x0008,
} as const;

/** Generic (vendor 0) chunk type ids, HEP3 rev 37. */
export const HepChunkType = {
  /** Invalid with vendor 0: the whole packet is rejected. */
  INVALID: 0x0000,
  IP_FAMILY: 0x0001,
  IP_PROTO: 0x0002,
  SRC_IPV4: 0x0003,
  DST_IPV4: 0x0004,
  SRC_IPV6: 0x0005,
  DST_IPV6: 0x0006,
  SRC_PORT: 0x0007,
  DST_PORT: 0x0008,
  TS_SEC: 0x0009,
  TS_USEC: 0x000a,
  PROTO_TYPE: 0x000b,
  CAPTURE_ID: 0x000c,
  KEEP_ALIVE: 0x000d,
  AUTH_KEY: 0x000e,
  PAYLOAD: 0x000f,
  COMPRESSED_PAYLOAD: 0x0010,
  CORRELATION_ID: 0x0011,
  VLAN_ID: 0x0012,
  NODE_NAME: 0x0013,
  SRC_MAC: 0x0014,
  DST_MAC: 0x0015,
  ETHERNET_TYPE: 0x0016,
  TCP_FLAGS: 0x0017,
  IP_TOS: 0x0018,
  MOS: 0x0020,
  R_FACTOR: 0x0021,
  GEO_LOCATION: 0x0022,
  JITTER: 0x0023,
  TRANSACTION_TYPE: 0x0024,
  PAYLOAD_JSON_KEYS: 0x0025,
  TAGS_VALUES: 0x0026,
  TAG_TYPE: 0x0027,
  EVENT_TYPE: 0x0028,
  GROUP_ID: 0x0029,
} as const;

/** Human-readable chunk names for error messages. */
export const HEP_CHUNK_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(HepChunkType).map(([name, id]) => [id, name.toLowerCase()]),
);

/**
 * Data size of the fixed-size generic chunks (u8/u16/u32/inet4/inet6), indexed by type;
 * 0 = variable or not checked. The u64 MAC chunks (0x14, 0x15) are not checked: senders
 * put 6-byte MACs there and nothing here reads them.
 */
export const HEP_CHUNK_FIXED_SIZE: readonly number[] = (() => {
  const sizes = new Array<number>(HepChunkType.GROUP_ID + 1).fill(0);
  const u8 = [HepChunkType.IP_FAMILY, HepChunkType.IP_PROTO, HepChunkType.PROTO_TYPE, HepChunkType.TCP_FLAGS, HepChunkType.IP_TOS];
  const u16 = [
    HepChunkType.SRC_PORT,
    HepChunkType.DST_PORT,
    HepChunkType.KEEP_ALIVE,
    HepChunkType.VLAN_ID,
    HepChunkType.ETHERNET_TYPE,
    HepChunkType.MOS,
    HepChunkType.R_FACTOR,
    HepChunkType.TAG_TYPE,
    HepChunkType.EVENT_TYPE,
  ];
  const u32 = [HepChunkType.TS_SEC, HepChunkType.TS_USEC, HepChunkType.CAPTURE_ID, HepChunkType.JITTER];
  for (const t of u8) sizes[t] = 1;
  for (const t of u16) sizes[t] = 2;
  for (const t of u32) sizes[t] = 4;
  sizes[HepChunkType.SRC_IPV4] = 4;
  sizes[HepChunkType.DST_IPV4] = 4;
  sizes[HepChunkType.SRC_IPV6] = 16;
  sizes[HepChunkType.DST_IPV6] = 16;
  return sizes;
})();

/** HEP protocol type values (chunk 0x000b), rev 37 plus the values captagent, heplify and other agents send. */
export const HepProtoType = {
  RESERVED: 0,
  SIP: 1,
  XMPP: 2,
  SDP: 3,
  RTP: 4,
  /** RTCP as JSON: Kamailio stores it in `rtcp_capture`. */
  RTCP: 5,
  MGCP: 6,
  MEGACO: 7,
  M2UA: 8,
  M3UA: 9,
  IAX: 10,
  H3222: 11,
  H321: 12,
  M2PA: 13,
  JSON_WEBRTC: 20,
  /** JSON QoS (Janus/hepipe); Kamailio stores it in `report_capture`. */
  QOS_REPORT: 32,
  MOS_FULL_REPORT: 34,
  MOS_SHORT_REPORT: 35,
  HORACLIFIX: 38,
  SIP_JSON: 50,
  DNS_JSON: 53,
  M3UA_JSON: 54,
  RTSP_JSON: 55,
  DIAMETER_JSON: 56,
  GSM_MAP_JSON: 57,
  RTCP_PION: 58,
  CDR: 60,
  VERTO_JSON: 61,
  /** JSON QoS; Kamailio stores it in `report_capture`. */
  QOS_JSON: 99,
  /** Logs; Kamailio stores them in `logs_capture`. */
  LOG: 100,
} as const;

/** IP protocol numbers seen in HEP (v1/v2 header byte 3, chunk 0x0002). */
export const IpProto = {
  TCP: 6,
  UDP: 17,
  /** IPPROTO_IDP, used by HEP senders as a "TLS" marker. */
  IDP_TLS: 22,
  SCTP: 132,
} as const;


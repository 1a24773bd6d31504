/**
 * Link layers: find the network-layer packet in a captured frame.
 *
 * Link types are the LINKTYPE_* numbers of pcap files (tcpdump.org/linktypes.html); libpcap's
 * DLT_* values equal them for everything used here except raw IP, where DLT_RAW is 12 (or 14 on
 * OpenBSD) while files say 101, so all three are accepted.
 */

export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  RAW_DLT12: 12,
  RAW_DLT14: 14,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export const EtherType = {
  IPV4: 0x0800,
  IPV6: 0x86dd,
  VLAN: 0x8100,
  QINQ: 0x88a8,
  QINQ_OLD: 0x9100,
  TEB: 0x6558,
} as const;

/** Linux packet types (SLL pkttype, `struct sockaddr_ll.sll_pkttype`). */
export const PacketType = {
  HOST: 0,
  BROADCAST: 1,
  MULTICAST: 2,
  OTHERHOST: 3,
  OUTGOING: 4,
  /** Not known from the link layer (Ethernet decides by MAC, raw IP has none). */
  UNKNOWN: -1,
} as const;

/** Where the network layer starts; `etherType` tells what it is (0 = unknown/unsupported). */
export interface LinkResult {
  etherType: number;
  offset: number;
  /** A PacketType value. */
  packetType: number;
  /** Offset of the Ethernet destination MAC, or -1 (used for the promiscuous-off check). */
  macOffset: number;
}

/** Longest VLAN tag stack we walk (QinQ is 2; more is either exotic or garbage). */
const MAX_VLAN_TAGS = 4;

/** Reused result object: decoding runs per packet and must not allocate. */
const result: LinkResult = { etherType: 0, offset: 0, packetType: PacketType.UNKNOWN, macOffset: -1 };

function fail(): LinkResult {
  result.etherType = 0;
  result.offset = 0;
  result.packetType = PacketType.UNKNOWN;
  result.macOffset = -1;
  return result;
}

/**
 * Skips 802.1Q / 802.1ad tags starting at the EtherType field at `typeAt`. Returns the result
 * (etherType 0 when truncated or when the stack is too deep).
 */
function afterVlanTags(buf: Uint8Array, typeAt: number, end: number): LinkResult {
  let at = typeAt;
  for (let tags = 0; ; tags++) {
    if (at + 2 > end) return fail();
    const type = ((buf[at] ?? 0) << 8) | (buf[at + 1] ?? 0);
    if (type !== EtherType.VLAN && type !== EtherType.QINQ && type !== EtherType.QINQ_OLD) {
      result.etherType = type;
      result.offset = at + 2;
      return result;
    }
    if (tags === MAX_VLAN_TAGS) return fail();
    at += 4; // TCI (2) then the next EtherType
  }
}

/** Ethernet II with any number (≤ 4) of 802.1Q/802.1ad tags, frame starting at `start`. */
export function decodeEthernet(buf: Uint8Array, start: number, end: number): LinkResult {
  if (start + 14 > end) return fail();
  afterVlanTags(buf, start + 12, end);
  if (result.etherType !== 0 && result.etherType < 0x0600) result.etherType = 0; // 802.3 length: LLC, not IP
  result.packetType = PacketType.UNKNOWN;
  result.macOffset = result.etherType === 0 ? -1 : start;
  return result;
}

/** The address-family values BSD, Linux and macOS write in DLT_NULL / DLT_LOOP headers. */
function etherTypeOfAf(af: number): number {
  if (af === 2) return EtherType.IPV4;
  if (af === 10 || af === 24 || af === 28 || af === 30) return EtherType.IPV6;
  return 0;
}

/**
 * Decodes the link header of a frame of `linkType`. Returns a shared result object (valid until
 * the next call); etherType 0 means "not IP or not decodable".
 */
export function decodeLink(linkType: number, buf: Uint8Array, start: number, end: number): LinkResult {
  switch (linkType) {
    case LinkType.ETHERNET:
      return decodeEthernet(buf, start, end);
    case LinkType.LINUX_SLL: {
      // pkttype(2) hatype(2) halen(2) addr(8) protocol(2)
      if (start + 16 > end) return fail();
      afterVlanTags(buf, start + 14, end);
      result.packetType = ((buf[start] ?? 0) << 8) | (buf[start + 1] ?? 0);
      result.macOffset = -1;
      return result;
    }
    case LinkType.LINUX_SLL2: {
      // protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8)
      if (start + 20 > end) return fail();
      const protocol = ((buf[start] ?? 0) << 8) | (buf[start + 1] ?? 0);
      if (protocol === EtherType.VLAN || protocol === EtherType.QINQ || protocol === EtherType.QINQ_OLD) {
        // The first tag's TCI follows the header, then the next EtherType.
        afterVlanTags(buf, start + 22, end);
      } else {
        result.etherType = protocol;
        result.offset = start + 20;
      }
      result.packetType = buf[start + 10] ?? PacketType.UNKNOWN;
      result.macOffset = -1;
      return result;
    }
    case LinkType.RAW:
    case LinkType.RAW_DLT12:
    case LinkType.RAW_DLT14:
    case LinkType.IPV4:
    case LinkType.IPV6:
      return rawIp(buf, start, end);
    case LinkType.NULL: {
      if (start + 4 > end) return fail();
      // Host byte order of the capturing machine: try both.
      const le = (buf[start] ?? 0) | ((buf[start + 1] ?? 0) << 8);
      const be = ((buf[start + 2] ?? 0) << 8) | (buf[start + 3] ?? 0);
      result.etherType = etherTypeOfAf(le !== 0 ? le : be);
      result.offset = start + 4;
      result.packetType = PacketType.UNKNOWN;
      result.macOffset = -1;
      return result;
    }
    case LinkType.LOOP: {
      if (start + 4 > end) return fail();
      result.etherType = etherTypeOfAf(((buf[start + 2] ?? 0) << 8) | (buf[start + 3] ?? 0));
      result.offset = start + 4;
      result.packetType = PacketType.UNKNOWN;
      result.macOffset = -1;
      return result;
    }
    default:
      return fail();
  }
}

/** Raw IP: the version nibble says which. */
export function rawIp(buf: Uint8Array, start: number, end: number): LinkResult {
  if (start >= end) return fail();
  const version = (buf[start] ?? 0) >> 4;
  result.etherType = version === 4 ? EtherType.IPV4 : version === 6 ? EtherType.IPV6 : 0;
  result.offset = start;
  result.packetType = PacketType.UNKNOWN;
  result.macOffset = -1;
  return result;
}

/** Parses a link type name as cap reports it (`ETHERNET`, `LINKTYPE_LINUX_SLL`, `RAW`, `NULL`, `Unknown linktype N`). */
export function linkTypeFromCapName(name: string): number | null {
  switch (name) {
    case 'ETHERNET':
      return LinkType.ETHERNET;
    case 'LINKTYPE_LINUX_SLL':
      return LinkType.LINUX_SLL;
    case 'RAW':
      return LinkType.RAW_DLT12;
    case 'NULL':
      return LinkType.NULL;
    default: {
      const m = /^Unknown linktype (\d+)$/.exec(name);
      if (m === null) return null;
      const n = Number(m[1]);
      return isSupportedLinkType(n) ? n : null;
    }
  }
}

export function isSupportedLinkType(linkType: number): boolean {
  return (Object.values(LinkType) as number[]).includes(linkType);
}

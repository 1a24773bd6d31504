/** The load generator: HEP traffic mixes, a token-bucket sender over UDP/TCP, worker threads. */
export { FLOW_TOKEN_PLACEHOLDER, MIX_NAMES, MIXED_FLOW_WEIGHTS, flowTemplates, mixWeights, type FlowKind, type MixName } from './mix.js';
export { PacketFactory, compileTemplate, type HepVersion, type PacketTemplate } from './packets.js';
export { TokenBucket } from './token-bucket.js';
export { runSender, validateSenderOptions, type SendSummary, type SenderOptions, type Transport } from './sender.js';
export { mergeSummaries, sendLoad, type LoadOptions } from './load.js';

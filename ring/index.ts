/**
 * ring/ — devices and queues: the layer between the stack (proto/) and the hardware bindings
 * (verbs/).
 *
 * Contents:
 *   device.ts       the Device interface and capabilities every backend implements
 *   buffer_pool.ts  reference-counted packet buffers (descriptors over one memory region each)
 *   flow.ts         flow keys and the demux table (VMA's rfs precedence)
 *   ring.ts         Ring: a device + RX/TX pools, RX poll → demux, TX batching
 *   counters.ts     the ring's named counters
 *   sim.ts          sim device: an in-process switch; fault.ts: its seeded fault injection
 *   pcap_device.ts  a decorator recording any device's frames to a pcap sink (pcap.ts)
 *   poller.ts       the event-loop poller (imports koffi: import it from ./poller, not from here)
 *   packet/         the AF_PACKET device (koffi: import it from ./packet/packet_device)
 *   verbs/          the verbs devices over verbs/ (koffi: import them from ./verbs/ud_device,
 *                   ./verbs/eth_device): verbs-ud (UD QPs, soft-RoCE and RoCE NICs), verbs-eth
 *                   (raw-packet QP + flow steering, ConnectX only); docs/verbs.md
 *
 * Imports: verbs/ and conf/ only (never proto/, lib/, bin/); the lint rule holds that. The key
 * extractor in flow.ts reads fixed header offsets for that reason.
 *
 * Guarantees:
 * - Allocation: nothing per frame on the RX, demux and TX paths. Buffers are indices into typed
 *   arrays; sinks and device callbacks are bound once; counters are numbers incremented in place.
 *   Setup (pools, flows, regions) and stats snapshots allocate.
 * - Time: nothing here reads a clock or sets a timer except poller.ts. `now` (ms, monotonic) is
 *   passed in; buffers carry receive timestamps in ns.
 * - Errors: bytes from the wire never throw — a frame that cannot be delivered is released and
 *   counted under one named counter (RingCounters, device stats). Misuse throws: a double release,
 *   data outside a buffer, a duplicate flow, bad options.
 * - Buffers: every buffer handed to a sink carries one reference that the sink must release (or
 *   keep and release later); `outstanding` counts what is held. Wrapped device memory goes back to
 *   its device when its last reference goes.
 */
export { BufFlag, BufferPool, regionOf, type BufferOwner, type PoolCounters, type Region } from './buffer_pool';
export { NO_CHECKSUM_OFFLOAD, type ChecksumCaps, type Device, type DeviceCaps, type DeviceKind, type FlowSpec, type RxSink } from './device';
export { FlowTable, FrameClass, type FlowKey, type FlowSink } from './flow';
export { Ring, type RingOptions } from './ring';
export { RING_COUNTERS, newRingCounters, ringDrops, type RingCounters } from './counters';
export { SimDevice, SimWire, type SimDeviceOptions, type SimWireOptions } from './sim';
export { FaultInjector, type FaultCounters, type FaultOptions } from './fault';
export { PcapDevice } from './pcap_device';
export { PcapFileWriter, type FrameSink } from './pcap';

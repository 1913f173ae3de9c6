/**
 * The verbs-eth device on real ConnectX hardware (mlx5): runs when an mlx5 device exists, skips with
 * the reason otherwise (rxe has no raw-packet QPs or flow steering; this host has no RDMA device).
 * Set TSVMA_TEST_MLX5=mlx5_0[:PORT] to choose the device.
 */
import { BufferPool } from '../../../ring/buffer_pool';
import { EthDevice } from '../../../ring/verbs/eth_device';
import { Context, listDevices, verbsAvailable } from '../../../verbs';

function findMlx5(): { dev: string; port: number } | string {
  const want = process.env.TSVMA_TEST_MLX5;
  if (want) {
    const [dev, port] = want.split(':');
    return { dev, port: Number(port ?? 1) };
  }
  const a = verbsAvailable();
  if (!a.ok) return a.reason;
  for (const d of listDevices()) {
    const ctx = Context.open(d.name);
    try {
      if (ctx.isMlx5) return { dev: d.name, port: 1 };
    } finally {
      ctx.close();
    }
  }
  return `no mlx5 (ConnectX) device among ${a.devices.join(', ')}`;
}

const hw = findMlx5();
const maybe = typeof hw === 'string' ? describe.skip : describe;
if (typeof hw === 'string') console.warn(`verbs-eth hardware test skipped: ${hw}`);

maybe('verbs-eth on ConnectX', () => {
  const { dev, port } = hw as { dev: string; port: number };

  it('opens a raw-packet QP with steering rules, sends a broadcast ARP frame, closes idempotently', () => {
    const d = new EthDevice({ dev, port, mac: 0x02c6120000aa });
    try {
      expect(d.caps.kind).toBe('verbs-eth');
      d.attachFlow({ kind: 'multicast-mac', mac: 0x01005e000001 });
      const pool = new BufferPool('t', 8, 2048);
      const id = pool.alloc(0);
      const b = pool.region.u8;
      const s = pool.start(id);
      b.fill(0xff, s, s + 6);
      b.set([0x02, 0xc6, 0x12, 0, 0, 0xaa, 0x08, 0x06], s + 6);
      pool.append(id, 60);
      expect(d.txBurst(pool, Int32Array.of(id), 1, 0)).toBe(1);
      expect(d.stats().txFrames).toBe(1);
      d.detachFlow({ kind: 'multicast-mac', mac: 0x01005e000001 });
    } finally {
      d.close();
      d.close();
    }
  });
});

/**
 * Application memory registered on a verbs device's PD (the extra API's register_memory_on_ring /
 * deregister_memory_on_ring), shared by the verbs devices: one MR per Uint8Array, kept (with the
 * memory) until deregistered or the PD's context closes.
 */
import type { MR, PD } from '../../verbs';

export class UserMemory {
  private readonly mrs = new Map<Uint8Array, MR>();

  constructor(private readonly pd: PD) {}

  /** ibv_reg_mr (local write) of `mem`; its lkey (the same for memory registered already). */
  register(mem: Uint8Array): number {
    const had = this.mrs.get(mem);
    if (had) return had.lkey;
    const mr = this.pd.regBuffer(mem);
    this.mrs.set(mem, mr);
    return mr.lkey;
  }

  /** False when `mem` was not registered. */
  deregister(mem: Uint8Array): boolean {
    const mr = this.mrs.get(mem);
    if (!mr) return false;
    this.mrs.delete(mem);
    mr.close();
    return true;
  }
}

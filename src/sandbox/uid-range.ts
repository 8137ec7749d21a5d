// The unprivileged user each sandboxed process runs as when Hearth is root:
// one uid of its own per live sandbox, from a range no account of the host
// uses (far above /etc/passwd's, below the 2^31 that some tools mishandle),
// so two functions never share a user and none is a user of the host.
export const SANDBOX_UID_BASE = 1_800_000_000;
export const SANDBOX_UID_COUNT = 65_536;

export class UidRange {
  private readonly used = new Set<number>();
  private next: number;

  constructor(
    readonly base = SANDBOX_UID_BASE,
    readonly count = SANDBOX_UID_COUNT,
    /** Where in the range to start: two Hearths on one machine start apart (randomly, unless told). */
    start = Math.floor(Math.random() * count),
  ) {
    this.next = ((start % count) + count) % count;
  }

  /** A uid no live sandbox holds; round-robin, so a freed uid is reused as late as possible. */
  take(): number {
    if (this.used.size >= this.count) throw new Error(`all ${this.count} sandbox uids from ${this.base} are in use`);
    for (;;) {
      const uid = this.base + this.next;
      this.next = (this.next + 1) % this.count;
      if (!this.used.has(uid)) {
        this.used.add(uid);
        return uid;
      }
    }
  }

  release(uid: number): void {
    this.used.delete(uid);
  }

  get inUse(): number {
    return this.used.size;
  }
}

// The header timeout of every connection a listener is reading, kept by one shared timer. A timer per
// connection (set, unref'd and cleared for each) took about 3 µs a connection on the benchmark's server, where a
// set's insert and delete take a fraction of that; the price is precision: a connection is closed between its
// timeout and one tick later. The same set is every connection still waiting, which the server's shutdown ends.

/** One connection's deadline: `end` is called once, with `true` when it passed, `false` when ended early (endAll). */
export interface Deadline {
  readonly at: number;
  readonly end: (timedOut: boolean) => void;
}

/** The longest tick: the default timeout of 10 s is kept to within a second. */
const MAX_TICK_MS = 1_000;

export class Deadlines {
  readonly #waiting = new Set<Deadline>();
  readonly #timeout: number;
  readonly #tick: number;
  #timer: NodeJS.Timeout | undefined;

  /** `timeout` in milliseconds; a deadline is checked every quarter of it, and at least once a second. */
  constructor(timeout: number) {
    this.#timeout = timeout;
    this.#tick = Math.min(MAX_TICK_MS, Math.max(1, Math.ceil(timeout / 4)));
  }

  /** Starts a connection's clock. The shared timer runs only while some connection is waiting, and never keeps the process alive. */
  start(end: (timedOut: boolean) => void): Deadline {
    const deadline: Deadline = { at: performance.now() + this.#timeout, end };
    this.#waiting.add(deadline);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#sweep(), this.#tick);
      this.#timer.unref();
    }
    return deadline;
  }

  /** The connection is done waiting (its header came, or it failed). */
  stop(deadline: Deadline): void {
    this.#waiting.delete(deadline);
  }

  /** Ends every waiting connection now, before its time (the server is closing): `end(false)` for each. */
  endAll(): void {
    for (const deadline of this.#waiting) {
      this.#waiting.delete(deadline);
      deadline.end(false);
    }
    this.#stopTimer();
  }

  #sweep(): void {
    const now = performance.now();
    for (const deadline of this.#waiting) {
      if (deadline.at > now) continue;
      this.#waiting.delete(deadline);
      deadline.end(true);
    }
    if (this.#waiting.size === 0) this.#stopTimer();
  }

  #stopTimer(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

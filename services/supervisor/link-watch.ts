// Link and address events (rtnetlink) make the supervisor look at its interfaces again:
// interfaces that appear start their waiting rules, links that go down take their rules down,
// an address change rebinds egress. The socket is drained every 50 ms; a full look every 5 s
// covers lost events (and retries joins and outputs that failed).
import { closeFd } from "../../c/inet.ts";
import { netlinkOpen, netlinkRead } from "../../c/netlink.ts";

export class LinkWatch {
  private fd = -1;
  private timers: Timer[] = [];
  private pending: Timer | null = null;

  constructor(private readonly onChange: (why: "event" | "rescan") => void, private readonly debug: (o: object, m: string) => void) {}

  start(): void {
    this.fd = netlinkOpen();
    this.timers.push(setInterval(() => {
      const ev = netlinkRead(this.fd);
      if (ev !== "overrun" && ev.length === 0) return;
      if (ev !== "overrun") for (const e of ev) this.debug(e, "link event");
      this.pending ??= setTimeout(() => {
        this.pending = null;
        this.onChange("event");
      }, 20);
    }, 50));
    this.timers.push(setInterval(() => this.onChange("rescan"), 5000));
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.pending) clearTimeout(this.pending);
    if (this.fd >= 0) closeFd(this.fd);
    this.fd = -1;
  }
}

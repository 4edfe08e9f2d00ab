import { expect, test } from "bun:test";
import { parsePing, quantile } from "./ping.ts";
import { parseTcpGbps } from "./tcp.ts";

// What iperf 2.1.8 printed with `-f m -e` (trimmed).
const ONE = `[ ID] Interval            Transfer    Bandwidth       Write/Err  Rtry     Cwnd/RTT(var)        NetPwr
[  1] 0.0000-2.0064 sec  1380 MBytes  5769 Mbits/sec  11039/0          1     1645K/1101(248) us  655001`;
const FOUR = `[  3] 0.0000-2.0225 sec  714 MBytes  3030 Mbits/sec  5847/0          2     2019K/2990(4949) us  126734
[  1] 0.0000-2.0256 sec  1130 MBytes  4800 Mbits/sec  9270/0        181     1566K/1795(2631) us  334179
[SUM] 0.0000-2.0089 sec  1850 MBytes  7890 Mbits/sec  15117/0       183
[ CT] final connect times (min/avg/max/stdev) = 0.020/0.084/0.148/90.510 ms (tot/err) = 2/0`;

test("one stream: its line; several: the [SUM] line", () => {
  expect(parseTcpGbps(ONE, 1)).toBeCloseTo(5.769);
  expect(parseTcpGbps(FOUR, 4)).toBeCloseTo(7.89);
  expect(parseTcpGbps("connect failed: Connection refused", 1)).toBeNull();
});

test("ping: every reply's time, percentiles by nearest rank", () => {
  const lines = Array.from({ length: 100 }, (_, i) => `64 bytes from 198.18.60.2: icmp_seq=${i + 1} ttl=64 time=${(i + 1) / 100} ms`);
  const p = parsePing(`${lines.join("\n")}\n\n--- 198.18.60.2 ping statistics ---\n101 packets transmitted, 100 received, 0.99% packet loss`);
  expect(p).toMatchObject({ sent: 101, received: 100, maxMs: 1 });
  expect(p.p50Ms).toBeCloseTo(0.505);
  expect(p.p99Ms).toBeCloseTo(0.99);
  expect(quantile([1, 2, 3], 0.5)).toBe(2);
  expect(parsePing("2 packets transmitted, 0 received, 100% packet loss")).toMatchObject({ sent: 2, received: 0, p50Ms: null });
});

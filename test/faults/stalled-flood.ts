// An attacker of stalled-connections.test.ts, a child process of its own (the
// test starts two, as one process may not hold more descriptors than the
// gateway may). It tries to hold COUNT connections to the gateway open,
// their source addresses spread over 127.0.0.FROM..TO so that no single
// address stands out: half send a request with a chunked body that never
// ends and no credentials, half send headers that never end. Whatever the
// gateway closes is opened again REOPEN_MS (default 5 s) plus up to 2 s
// later: clients holding their connections, not a connect-rate flood. It
// reports its counts as a JSON line every 500 ms on stdout and stops by
// itself after DURATION_MS, or when its stdin closes (the test ended or died).
import { connect, type Socket } from 'node:net';

const port = Number(process.env.PORT);
const count = Number(process.env.COUNT ?? 20_000);
const from = Number(process.env.FROM ?? 10);
const to = Number(process.env.TO ?? 200);
const durationMs = Number(process.env.DURATION_MS ?? 120_000);
const reopenMs = Number(process.env.REOPEN_MS ?? 5_000);
const path = process.env.TARGET_PATH ?? '/2015-03-31/functions/echo/invocations';

const CHUNKED = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n`;
const PARTIAL = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n`;

const stats = { open: 0, maxOpen: 0, connects: 0, closedByServer: 0, errors: 0, answered: 0 };
const sockets = new Set<Socket>();
let running = true;

function open(slot: number): void {
  if (!running) return;
  const localAddress = `127.0.0.${from + (slot % (to - from + 1))}`;
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  sockets.add(socket);
  let connected = false;
  socket.once('connect', () => {
    connected = true;
    stats.connects++;
    stats.open++;
    stats.maxOpen = Math.max(stats.maxOpen, stats.open);
    socket.write(slot % 2 === 0 ? CHUNKED : PARTIAL);
  });
  socket.once('data', () => void stats.answered++);
  socket.on('data', () => {});
  socket.on('error', () => void stats.errors++);
  socket.once('close', () => {
    sockets.delete(socket);
    if (connected) {
      stats.open--;
      if (running) stats.closedByServer++;
    }
    // Each on its own clock, as many clients would be, rather than all in one synchronised burst.
    if (running) setTimeout(() => open(slot), reopenMs + Math.random() * 2_000).unref();
  });
}

function stop(): void {
  if (!running) return;
  running = false;
  for (const s of sockets) s.destroy();
  report();
  setTimeout(() => process.exit(0), 200);
}

function report(): void {
  process.stdout.write(`${JSON.stringify(stats)}\n`);
}

// Paced, so the listener's accept backlog is not the limit being measured.
let next = 0;
const opener = setInterval(() => {
  for (let i = 0; i < 500 && next < count; i++) open(next++);
  if (next >= count) clearInterval(opener);
}, 25);
setInterval(report, 500);
setTimeout(stop, durationMs);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);

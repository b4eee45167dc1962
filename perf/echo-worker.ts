/**
 * The message-passing baselines of `npm run bench` (perf/bench-baselines.ts): the worker side of a
 * postMessage round trip (echo every message back on the port it came from) or of a comlink call
 * (expose `echo` on that port). Runs its code only when started as a worker.
 */
import * as Comlink from 'comlink';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';

export interface EchoTask { port: MessagePort; mode: 'postmessage' | 'comlink' }

if (parentPort !== null && workerData !== undefined && workerData !== null) {
  const { port, mode } = workerData as EchoTask;
  if (mode === 'comlink') {
    // Node's MessagePort is an EventTarget with start(): all a comlink endpoint needs (src/control.ts).
    Comlink.expose({ echo: (x: number): number => x }, port as unknown as Comlink.Endpoint);
  } else {
    port.on('message', (x: unknown) => port.postMessage(x));
  }
}

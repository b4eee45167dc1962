// Worker for test/runtime/thread-priority.test.ts (plain JS: worker threads load compiled code).
// Sets its own nice value with setOwnThreadNice (workerData.nice, optionally workerData.link as
// the thread-self link and workerData.then a second value), posts each outcome, then stays alive
// until told to end, so the test can read the thread's nice value from /proc while it exists.
import { parentPort, workerData } from 'node:worker_threads';
import { setOwnThreadNice } from '../../../dist/src/exit/thread-priority.js';

const { nice, link, then } = workerData;
const first = link === undefined ? setOwnThreadNice(nice) : setOwnThreadNice(nice, link);
const second = then === undefined ? null : setOwnThreadNice(then);
parentPort.postMessage({ first, second });
parentPort.once('message', () => process.exit(0));

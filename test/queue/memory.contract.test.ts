import { createQueue } from '../../src/queue/index.js';
import { queueContract } from './contract.js';

queueContract('memory', async (opts) => createQueue(opts));

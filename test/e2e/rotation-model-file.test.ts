/** The model-based no-lock-out test (./rotation-model.ts) with the encrypted file vault. */
import { describeModel } from './rotation-model.js';

describeModel('file', [11, 23, 37, 41]);

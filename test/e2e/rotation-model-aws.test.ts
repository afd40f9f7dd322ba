/** The model-based no-lock-out test (./rotation-model.ts) with the AWS Secrets Manager adapter against the emulator. */
import { describeModel } from './rotation-model.js';

describeModel('aws', [53, 67, 79, 83]);

import type { SignatureRecord } from '../model/record';
import { EXPECTABLE_FIELDS, type Expectation } from './store';

/** Whether a record meets a conditional update's expectations: the reference semantics every store follows. */
export function matches(record: SignatureRecord, expect: Expectation | undefined): boolean {
  if (!expect) return true;
  if (expect.status && !expect.status.includes(record.status)) return false;
  for (const field of EXPECTABLE_FIELDS) {
    const wanted = expect[field];
    if (wanted !== undefined && (record[field] ?? null) !== wanted) return false;
  }
  return true;
}

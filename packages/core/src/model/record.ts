import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { CorruptRecordError } from '../errors';

/** A value held in a box, so that `undefined` (absent) and `null` (a real result) differ. */
const Boxed = Type.Object({ value: Type.Unknown() });

const StatusSchema = Type.Union([
  Type.Literal('pending'),
  Type.Literal('active'),
  Type.Literal('suspended'),
  Type.Literal('interrupted'),
  Type.Literal('canceled'),
  Type.Literal('done'),
  Type.Literal('failed'),
  Type.Literal('marked_for_deletion'),
]);
const KindSchema = Type.Union([Type.Literal('task'), Type.Literal('chain'), Type.Literal('swarm'), Type.Literal('graph')]);

const ErrorInfoSchema = Type.Object({
  name: Type.String(),
  message: Type.String(),
  code: Type.Optional(Type.String()),
  stack: Type.Optional(Type.String()),
  attempts: Type.Number(),
});

const PrioritySchema = Type.Union([Type.Literal('high'), Type.Literal('medium'), Type.Literal('low')]);

export const SwarmConfigSchema = Type.Object({
  maxConcurrency: Type.Integer({ minimum: 1 }),
  stopAfterNFailures: Type.Optional(Type.Integer({ minimum: 1 })),
  maxTaskAllowed: Type.Optional(Type.Integer({ minimum: 1 })),
  /** the priority of members added without one. Default medium. */
  defaultPriority: Type.Optional(PrioritySchema),
  /**
   * What its success callbacks receive: 'list' (the default) every result in one list,
   * at most `config.maxListResults` members; 'handle' a small `SwarmResultsHandle` the
   * callback reads a page at a time with `mf.swarmResults(handle)`, for swarms of any size.
   */
  results: Type.Optional(Type.Union([Type.Literal('list'), Type.Literal('handle')])),
});
export type SwarmConfig = Static<typeof SwarmConfigSchema>;

/**
 * An edge of a graph, between nodes named by their position in `GraphSpec.nodes`.
 * `when`: a condition on the source's output (see `runtime/condition.ts`; checked when
 * the graph is made); `default`: taken when no conditioned edge of its source matched;
 * `onError`: taken only when its source failed, with the error.
 */
export const GraphEdgeSchema = Type.Object({
  from: Type.Integer({ minimum: 0 }),
  to: Type.Integer({ minimum: 0 }),
  when: Type.Optional(Type.Unknown()),
  default: Type.Optional(Type.Boolean()),
  onError: Type.Optional(Type.Boolean()),
});
export type GraphEdge = Static<typeof GraphEdgeSchema>;

/** A graph's shape: node names by position (their records are the graph's `members`, same positions), and edges. */
export const GraphSpecSchema = Type.Object({
  nodes: Type.Array(Type.String()),
  edges: Type.Array(GraphEdgeSchema),
  /** nodes running at once, at most. */
  maxConcurrency: Type.Integer({ minimum: 1 }),
});
export type GraphSpec = Static<typeof GraphSpecSchema>;

/**
 * What the Store keeps for each signature. One schema for the four kinds; the
 * container fields are present only on chains (`members`), swarms (`swarm`) and
 * graphs (`members` and `graph`).
 */
export const SignatureRecordSchema = Type.Object({
  key: Type.String({ minLength: 1 }),
  kind: KindSchema,
  taskName: Type.String(),
  name: Type.Optional(Type.String()),
  kwargs: Type.Record(Type.String(), Type.Unknown()),
  successCallbacks: Type.Array(Type.String()),
  errorCallbacks: Type.Array(Type.String()),
  /** signatures started once when it ends, however it ends (done, failed, interrupted, canceled). */
  cleanupCallbacks: Type.Optional(Type.Array(Type.String())),
  /** on a callback made with its owner (success, error or per-member): the owner; such a signature cannot join a container. */
  callbackOf: Type.Optional(Type.String()),
  /** on a cleanup signature: the signature it cleans up after. */
  cleanupOf: Type.Optional(Type.String()),
  /** why its cleanup failed (a cleanup function of its task, or a cleanup signature): never its own outcome. */
  cleanupError: Type.Optional(ErrorInfoSchema),
  status: StatusSchema,
  lastStatus: Type.Optional(StatusSchema),
  creationTime: Type.Number(),
  /** key of the chain, swarm or graph this signature is a member of. */
  parent: Type.Optional(Type.String()),
  /** its position in that container, from 0, in the order members were added. */
  index: Type.Optional(Type.Integer({ minimum: 0 })),
  /** its priority in a swarm's queue (and, passed to the engine, in the engine's). Absent: its swarm's default, or medium. */
  priority: Type.Optional(PrioritySchema),
  /** the message of its last dispatch, replayed by resume and recovery. */
  message: Type.Optional(Boxed),
  /** when it last ended (done, failed), for the status tree's timings (ms epoch). */
  endedAt: Type.Optional(Type.Number()),
  /** when it was last handed to the engine; absent until dispatched. */
  dispatchedAt: Type.Optional(Type.Number()),
  /** the worker that dispatched it or runs it (recovery takes over from dead ones). */
  worker: Type.Optional(Type.String()),
  /** the engine run currently executing it, and which attempt of that run. */
  runId: Type.Optional(Type.String()),
  attempt: Type.Optional(Type.Integer({ minimum: 1 })),
  result: Type.Optional(Boxed),
  error: Type.Optional(ErrorInfoSchema),
  /** true once everything that follows its end (callbacks, container notice) is done. */
  settled: Type.Optional(Type.Boolean()),
  /** marked_for_deletion: when the cleanup job may delete it for good (ms epoch). */
  deleteAt: Type.Optional(Type.Number()),
  /** a chain's members, in order, or a graph's nodes by position (a swarm's are kept by the store, as they can be added while it runs). */
  members: Type.Optional(Type.Array(Type.String())),
  swarm: Type.Optional(SwarmConfigSchema),
  graph: Type.Optional(GraphSpecSchema),
  /** on a swarm: tasks fired once for each member that succeeds, and for each that fails. */
  memberSuccessCallbacks: Type.Optional(Type.Array(Type.String())),
  memberErrorCallbacks: Type.Optional(Type.Array(Type.String())),
});
export type SignatureRecord = Static<typeof SignatureRecordSchema>;

const checkRecord = Compile(SignatureRecordSchema);

/** Fields a store may be asked to compare in a conditional update. */
export type RecordField = keyof SignatureRecord;

/**
 * Validates a value read back from a store. A corrupt or foreign value is a
 * `CorruptRecordError` naming the key, never a crash further in.
 */
export function parseRecord(value: unknown, key: string): SignatureRecord {
  if (checkRecord.Check(value)) {
    // A record must be the one asked for: a foreign or tampered `key` field would
    // make deletion and cancel act on another signature.
    if (value.key === key) return value;
    throw foreignKey(key, value.key);
  }
  const first = [...checkRecord.Errors(value)][0];
  throw invalidRecord(key, first ? `${first.instancePath || '/'} ${first.message}` : 'not an object');
}

const fieldChecks = new Map(Object.entries(SignatureRecordSchema.properties).map(([field, schema]) => [field, Compile(schema)]));
const requiredFields = new Set<string>(SignatureRecordSchema.required);

/**
 * Validates what an update writes to a record known to be valid: `set` (fields
 * whose value is `undefined` are not written) and `unset` (removed after `set`). The schema constrains
 * each field on its own, so the updated record is valid exactly when these
 * fields are, and checking them costs far less than `parseRecord` on the whole.
 * Throws what `parseRecord` would throw for the updated record.
 */
export function checkRecordUpdate(key: string, set: Readonly<Record<string, unknown>>, unset: readonly string[] = []): void {
  for (const field in set) {
    const value = set[field];
    if (value === undefined) continue;
    const check = fieldChecks.get(field);
    if (check === undefined) continue; // a field the schema does not name: records may carry extra fields
    if (!check.Check(value)) {
      const first = [...check.Errors(value)][0];
      throw invalidRecord(key, `/${field}${first?.instancePath ?? ''} ${first?.message ?? 'is invalid'}`);
    }
    if (field === 'key' && value !== key) throw foreignKey(key, value as string);
  }
  for (const field of unset) {
    if (requiredFields.has(field)) throw invalidRecord(key, `/ must have required property ${field}`);
  }
}

function foreignKey(key: string, stored: string): CorruptRecordError {
  return new CorruptRecordError(`stored value under "${key}" names another signature ("${stored}")`, { details: { key, stored } });
}

function invalidRecord(key: string, where: string): CorruptRecordError {
  return new CorruptRecordError(`stored value under "${key}" is not a valid signature record: ${where}`, { details: { key } });
}

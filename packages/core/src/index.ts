/**
 * @mageflow/core: compose tasks into signatures, chains and swarms, and control
 * them live. Runs on any `Store` and `Engine`; the in-memory store and the
 * in-process engine are the embedded defaults.
 */
export { Mageflow, type MageflowOptions, type TaskHandle, type SignatureInput, type MemberInput, type SignOptions, type ChainOptions, type SwarmOptions, type GraphOptions, type StatusTree, type Lock, type LockOptions } from './client';
export { Signature, TaskSignature, ChainSignature, SwarmSignature, GraphSignature, type RunOptions, type AddTasksOptions } from './signature';
export type { MageflowConfig, TtlConfig, SignatureTtlConfig, ParamConfig, Logger } from './config';
export { DEFAULT_MAX_LIST_RESULTS, resolveConfig, ttlFor, type ResolvedConfig } from './config';
export * from './errors';
export { isSwarmResultsHandle, RESULTS_PAGE, type SwarmResultsHandle } from './runtime/swarm-results';
export { STATUSES, KINDS, FINISHED, isFinished, type Status, type Kind } from './model/status';
export { encodeValue, decodeValue, MAX_DEPTH } from './model/values';
export { SignatureRecordSchema, SwarmConfigSchema, GraphSpecSchema, GraphEdgeSchema, parseRecord, type SignatureRecord, type SwarmConfig, type GraphSpec, type GraphEdge } from './model/record';
export { PRIORITIES, DEFAULT_PRIORITY, priorityRank, enginePriority, isPriority, type Priority } from './model/priority';
export { decide, OPERATIONS, type Operation, type Effect, type Decision } from './model/lifecycle';
export type * from './ports/store';
export { EXPECTABLE_FIELDS, TIMELINE_CAP, LOG_CAP, LOG_LEVELS, LOG_MESSAGE_MAX } from './ports/store';
export { checkMemberPage, encodeCursor, decodeCursor, listLimits, matchesListQuery, emptyStatusCounts, filterLogs, checkLogEntry, LIST_LIMIT, LIST_SCAN_LIMIT, type ListPosition } from './observability/store-helpers';
export { matches } from './ports/expectation';
export { isRetryable, type Engine, type EngineRun, type TaskDefinition, type DispatchRequest } from './ports/engine';
export { MemoryStore, type MemoryStoreOptions } from './memory/memory-store';
export { InProcessEngine, type InProcessEngineOptions, type BackoffPolicy, type RunOutcome } from './inprocess/in-process-engine';
export { withCtx, withSignature, staggerExecution, type CleanupEnd, type TaskContext, type TaskOptions } from './runtime/registry';
export type { CleanupMessage, CleanupOutcome } from './runtime/cleanup';
export { memberCallbackKey, type MemberErrorMessage, type MemberSuccessMessage } from './runtime/member-callbacks';
export { SIGNATURE_KEY } from './runtime/runtime';
export type { RemoveOptions } from './runtime/lifecycle';
export type { SweepOptions, SweepReport } from './runtime/recovery';
export type { ErrorCallbackMessage } from './runtime/settle';
export { deepMerge } from './runtime/message';
export type { GraphEdgeInput } from './model/graph-shape';
export type { Condition, Comparison, NamedCondition, ConditionFn } from './runtime/condition';
export type { TreeNode, TreeCounts, TreeOptions, TreeStatus } from './runtime/status-tree';
export { Inspector, ACTIONS, type Action, type InspectorOptions, type RedactionSite, type SignatureSummary, type SignatureDetail, type TaskInfo, type BulkResult, type KeyedLogEntry } from './observability/inspector';
// the inspector's view of a tree (callbacks and progress included), beside mf.tree()'s status tree
export type { TreeNode as InspectorTreeNode, TreeOptions as InspectorTreeOptions } from './observability/tree-view';
export type { Progress } from './observability/progress';
export type { TaskLogger } from './runtime/task-log';

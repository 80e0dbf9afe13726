/**
 * @mageflow/testing: the suites every Store and Engine implementation runs, and
 * helpers for tests of Mageflow workflows.
 */
export { describeStoreConformance, record, type StoreFactory, type StoreHarness } from './store-conformance';
export { describeEngineConformance, type EngineFactory, type EngineHarness, type EngineConformanceOptions } from './engine-conformance';
export { describeScenarios, type ScenarioEnv, type ScenarioFactory, type ScenarioOptions } from './scenarios';
export { faultyStore, countingStore, type FaultPlan, type FaultyStore } from './faulty-store';
export { describeFaultTolerance, type FaultEnv, type FaultFactory, type FaultToleranceOptions, type Workflow as FaultWorkflow } from './fault-tolerance';
export { waitUntil, delay, Recorder, uniqueId } from './helpers';
export { describeInspector } from './inspector';
export { describeProcessRaces, type ProcessRacesOptions, type RaceHarness } from './process-races';

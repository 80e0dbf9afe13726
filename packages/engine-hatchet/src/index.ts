/**
 * @mageflow/engine-hatchet: the Mageflow Engine on Hatchet.
 */
export { HatchetEngine, type HatchetEngineOptions } from './hatchet-engine';

/**
 * @mageflow/dashboard: a live web dashboard over any Mageflow store.
 *
 *   import { serveDashboard } from '@mageflow/dashboard';
 *   await serveDashboard(mf, { port: 4400 });
 */
export { serveDashboard, type DashboardOptions, type RunningDashboard } from './server/serve';
export { createDashboardApp, REQUEST_HEADER, type DashboardAppOptions } from './server/app';

/**
 * @mageflow/cli: the `mageflow` command, and the client it reads through (a running
 * dashboard's API, or a store directly), which the MCP server shares.
 */
export { httpClient, localClient, ClientError, type InspectionClient } from './client';
export { runCommand, type Flags, type Io } from './commands';

/**
 * @mageflow/mcp: an MCP server over Mageflow's inspection API.
 *
 *   const server = createMcpServer(localClient(new Inspector(mf)), { allowControl: true });
 *   await server.connect(new StdioServerTransport());
 */
export { createMcpServer, type McpOptions } from './server';

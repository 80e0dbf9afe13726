/**
 * An order pipeline on Mageflow.
 *
 *   validate -> charge -> [pack every line item, 2 at a time] -> ship
 *
 * with success and failure callbacks, a suspend and resume in the middle, and a
 * second order whose card is declined. Runs on the embedded defaults (no service),
 * or on Redis when MAGEFLOW_REDIS_URL is set (and on Redis + Hatchet when the
 * Hatchet token is set too).
 *
 * With `--dashboard` (npm run example -- --dashboard) it serves the dashboard on
 * http://127.0.0.1:4400 (MAGEFLOW_DASHBOARD_PORT) and keeps running, starting a new
 * order every 15 seconds, until Ctrl-C.
 */
import Type from 'typebox';
import { Mageflow, withCtx, type ErrorCallbackMessage, type TaskContext } from '@mageflow/core';
import { serveDashboard } from '@mageflow/dashboard';
import { connect } from './backends.js';

const started = Date.now();
const log = (what: string, detail?: unknown) =>
  console.log(`${String(Date.now() - started).padStart(5)} ms  ${what}${detail === undefined ? '' : `  ${JSON.stringify(detail)}`}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const Order = Type.Object({
  orderId: Type.String(),
  card: Type.String(),
  items: Type.Array(Type.Object({ sku: Type.String(), qty: Type.Integer({ minimum: 1 }) })),
});
type Order = Type.Static<typeof Order>;

async function main() {
  const backends = await connect();
  log(`store: ${backends.storeName}, engine: ${backends.engine.name}`);
  const mf = new Mageflow({ store: backends.store, engine: backends.engine, config: { ttl: { doneTtl: 600 } } });

  // --- tasks -------------------------------------------------------------------
  const validate = mf.task('validate-order', async (order: Order) => {
    log('validate', { orderId: order.orderId, lines: order.items.length });
    return order;
  }, { input: Order });

  const charge = mf.task('charge-card', async (order: Order) => {
    await sleep(150);
    if (order.card === 'declined') throw new Error(`card declined for ${order.orderId}`);
    log('charged', { orderId: order.orderId });
    return { orderId: order.orderId, items: order.items };
  }, { retries: 1 });

  const pack = mf.task('pack-item', withCtx(async ({ sku, qty }: { sku: string; qty: number }, ctx: TaskContext) => {
    await sleep(60 + qty * 20);
    log('  packed', { sku, qty });
    ctx.log.info(`packed ${qty} x ${sku}`, { sku, qty }); // kept with the signature: the dashboard shows it
    return `${sku}x${qty}`;
  }));

  const ship = mf.task('ship', async ({ parcels }: { parcels: string[] }) => {
    log('shipped', { parcels });
    return { tracking: `TRK-${parcels.length}-${Date.now() % 10000}` };
  }, { messageField: 'parcels' });

  const notify = mf.task('notify-customer', async (shipment: { tracking: string }) => log('callback: customer notified', shipment));
  const alert = mf.task('alert-ops', async ({ error, key }: ErrorCallbackMessage) => log('callback: ops alerted', { key, error: error.message, attempts: error.attempts }));

  await mf.start();
  const withDashboard = process.argv.includes('--dashboard');
  const dashboard = withDashboard ? await serveDashboard(mf, { port: Number(process.env.MAGEFLOW_DASHBOARD_PORT ?? 4400) }) : undefined;

  // --- order 1: the happy path, suspended and resumed in the middle --------------
  const order: Order = { orderId: 'A-100', card: 'visa', items: [{ sku: 'mug', qty: 2 }, { sku: 'tee', qty: 1 }, { sku: 'cap', qty: 3 }, { sku: 'pin', qty: 5 }] };
  const packing = await mf.swarm(
    await Promise.all(order.items.map((item) => mf.sign(pack, { kwargs: item }))),
    { name: 'pack lines', config: { maxConcurrency: 2 } },
  );
  await packing.close();
  const pipeline = await mf.chain([validate, charge, packing, ship], { name: 'order A-100', success: notify, error: alert });
  log('order A-100: start', { chain: pipeline.key });
  await pipeline.runNoWait(order);

  await sleep(190); // charging is done, the first two packers run
  await pipeline.suspend();
  log('order A-100: suspended (running packers finish, nothing new starts)');
  await sleep(400);
  log('order A-100: packing counts while suspended', await packing.counts());
  await pipeline.resume();
  log('order A-100: resumed');
  log('order A-100: result', await pipeline.wait({ timeoutMs: 30_000 }));

  // --- order 2: a declined card fails the chain once, after the retry ------------
  const declined = await mf.chain([validate, charge, ship], { name: 'order B-200', success: notify, error: alert });
  log('order B-200: start');
  try {
    await declined.run({ orderId: 'B-200', card: 'declined', items: [{ sku: 'mug', qty: 1 }] }, { timeoutMs: 30_000 });
  } catch (error) {
    log('order B-200: failed', { error: (error as Error).message });
  }

  await sleep(100); // let the last callbacks print
  if (dashboard) {
    log(`the dashboard stays open on ${dashboard.url}; a new order every 15 s; Ctrl-C to stop`);
    let n = 300;
    const skus = ['mug', 'tee', 'cap', 'pin', 'bag', 'pen', 'book', 'sock'];
    const next = async () => {
      const id = `C-${n++}`;
      const items = Array.from({ length: 6 + (n % 10) }, (_, i) => ({ sku: skus[i % skus.length]!, qty: 1 + ((i * 7 + n) % 5) }));
      const lines = await mf.swarm(await Promise.all(items.map((item) => mf.sign(pack, { kwargs: item }))), { name: `pack ${id}`, config: { maxConcurrency: 2 } });
      await lines.close();
      const chain = await mf.chain([validate, charge, lines, ship], { name: `order ${id}`, success: notify, error: alert });
      await chain.runNoWait({ orderId: id, card: n % 4 === 0 ? 'declined' : 'visa', items });
      log(`order ${id}: start`, { chain: chain.key });
    };
    const timer = setInterval(() => void next().catch((error) => log('could not start an order', String(error))), 15_000);
    await next();
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    clearInterval(timer);
    await dashboard.close();
  }
  await mf.stop();
  await backends.close();
  log('done');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

#!/usr/bin/env node
// A minimal OpenSQT client in Node.js: proof that any language can drive the connector
// from the .proto files alone. It reads the order-update stream, places a resting
// post-only buy well below the market, sees it arrive on the stream, cancels it and
// sees the cancellation. Prices and quantities stay decimal strings; the arithmetic
// below uses BigInt, never floating point.
//
//   node client.js --target 127.0.0.1:50051 [--symbol BTC/USDT:USDT] [--client-order-id ID]
//   OPENSQT_AUTH_TOKEN=... node client.js ...   (when the connector runs with --auth-token-file)
//
// Prints one JSON object per line and exits 0 on success, 1 on any failure or timeout.
'use strict';

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_ROOT = path.resolve(__dirname, '..', '..', 'proto');
const TIMEOUT_MS = 15000;

function parseArgs(argv) {
  const args = { target: '127.0.0.1:50051', symbol: 'BTC/USDT:USDT', clientOrderId: `node-${process.pid}-${Date.now() % 1e9}` };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--target') args.target = value;
    else if (flag === '--symbol') args.symbol = value;
    else if (flag === '--client-order-id') args.clientOrderId = value;
    else throw new Error(`unknown flag ${flag}`);
  }
  return args;
}

// --- exact decimals as (BigInt units, scale) -------------------------------------------

function parseDecimal(text) {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) throw new Error(`not a decimal: ${text}`);
  const fraction = match[3] || '';
  const units = BigInt(match[2] + fraction) * (match[1] ? -1n : 1n);
  return { units, scale: fraction.length };
}

function rescale(value, scale) {
  return value.units * 10n ** BigInt(scale - value.scale);
}

function formatDecimal(units, scale) {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

// A price about 10% below `last`, on the tick; the smallest quantity on the step that
// meets both the minimum quantity and the minimum notional at that price.
function restingBuy(market, last) {
  const [tick, step] = [parseDecimal(market.tick_size.value), parseDecimal(market.step_size.value)];
  const [minQty, minNotional] = [parseDecimal(market.min_quantity.value), parseDecimal(market.min_notional.value)];
  const scale = Math.max(tick.scale, step.scale, minQty.scale, minNotional.scale, parseDecimal(last).scale);
  const tickUnits = rescale(tick, scale);
  const stepUnits = rescale(step, scale);
  const priceUnits = ((rescale(parseDecimal(last), scale) * 9n) / 10n / tickUnits) * tickUnits;
  if (priceUnits <= 0n) throw new Error(`cannot price a resting buy below ${last}`);
  // quantity >= minNotional / price, rounded up to the step (all in units of 10^-scale).
  const notionalUnits = rescale(minNotional, scale) * 10n ** BigInt(scale);
  let qtyUnits = (notionalUnits + priceUnits - 1n) / priceUnits;
  qtyUnits = ((qtyUnits + stepUnits - 1n) / stepUnits) * stepUnits;
  const minQtyUnits = rescale(minQty, scale);
  if (qtyUnits < minQtyUnits) qtyUnits = ((minQtyUnits + stepUnits - 1n) / stepUnits) * stepUnits;
  return { price: formatDecimal(priceUnits, scale), quantity: formatDecimal(qtyUnits, scale) };
}

// --- gRPC --------------------------------------------------------------------------------

function loadExchangeService() {
  const definition = protoLoader.loadSync('opensqt/exchange/v1/exchange_service.proto', {
    includeDirs: [PROTO_ROOT],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).opensqt.exchange.v1.ExchangeService;
}

function unary(client, method, request, metadata) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

// Collects stream messages; `next(predicate)` resolves with the first one matching.
function follow(call) {
  const seen = [];
  const waiters = [];
  let failure = null;
  call.on('data', (message) => {
    seen.push(message);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(message)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  });
  call.on('error', (error) => {
    if (error.code === grpc.status.CANCELLED) return;
    failure = error;
    for (const waiter of waiters.splice(0)) waiter.reject(error);
  });
  return {
    seen,
    next(predicate) {
      const found = seen.find(predicate);
      if (found) return Promise.resolve(found);
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => waiters.push({ predicate, resolve, reject }));
    },
  };
}

function print(event, fields) {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const ExchangeService = loadExchangeService();
  const client = new ExchangeService(args.target, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (process.env.OPENSQT_AUTH_TOKEN) metadata.set('authorization', `Bearer ${process.env.OPENSQT_AUTH_TOKEN}`);

  const { market } = await unary(client, 'GetMarket', { symbol: args.symbol }, metadata);
  const { ticker } = await unary(client, 'GetTicker', { symbol: args.symbol }, metadata);
  const { price, quantity } = restingBuy(market, ticker.last.value);

  const call = client.StreamOrderUpdates({ symbol: args.symbol }, metadata);
  const updates = follow(call);
  const end = await updates.next((m) => m.event === 'snapshot_end');
  print('snapshot', { open_orders: end.snapshot_end.count });

  const placed = await unary(
    client,
    'PlaceOrder',
    {
      client_order_id: args.clientOrderId,
      symbol: args.symbol,
      side: 'SIDE_BUY',
      type: 'ORDER_TYPE_LIMIT',
      price: { value: price },
      quantity: { value: quantity },
      time_in_force: 'TIME_IN_FORCE_GTC',
      post_only: true,
    },
    metadata,
  );
  print('placed', {
    client_order_id: placed.order.client_order_id,
    order_id: placed.order.order_id,
    status: placed.order.status,
    price: placed.order.price.value,
    quantity: placed.order.quantity.value,
  });

  const ours = (status) => (m) =>
    m.event === 'update' && m.update.client_order_id === args.clientOrderId && m.update.status === status;
  const opened = await updates.next(ours('ORDER_STATUS_NEW'));
  print('update', { sequence: opened.sequence, status: opened.update.status });

  const canceled = await unary(client, 'CancelOrder', { symbol: args.symbol, client_order_id: args.clientOrderId }, metadata);
  print('canceled', { order_id: canceled.order.order_id, status: canceled.order.status });
  const closed = await updates.next(ours('ORDER_STATUS_CANCELED'));
  print('update', { sequence: closed.sequence, status: closed.update.status });

  const sequences = updates.seen.map((m) => BigInt(m.sequence));
  if (!sequences.every((s, i) => s === BigInt(i + 1))) throw new Error(`sequence gap in ${sequences.join(',')}`);
  call.cancel();
  client.close();
  print('done', { messages: updates.seen.length });
}

const timer = setTimeout(() => {
  process.stderr.write(`node-client: timed out after ${TIMEOUT_MS} ms\n`);
  process.exit(1);
}, TIMEOUT_MS);

main().then(
  () => {
    clearTimeout(timer);
    process.exit(0);
  },
  (error) => {
    process.stderr.write(`node-client: ${error.code !== undefined ? `gRPC ${error.code}: ` : ''}${error.message}\n`);
    process.exit(1);
  },
);

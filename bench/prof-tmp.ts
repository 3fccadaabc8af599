import { Redis } from 'ioredis';
import { encodeEnvelope } from '../src/lib/envelope.ts';
import { streamKeys } from '../src/lib/redis/keys.ts';
const redis = new Redis('redis://127.0.0.1:6379');
const key = streamKeys('profw', 'p').stream;
await redis.del(key);
const ts = new Date().toISOString();
for (let i = 0; i < 150000; i += 1000) {
  const p = redis.pipeline();
  for (let j = i; j < i + 1000; j++) p.xadd(key, '*', ...encodeEnvelope({ id: `e-${j}`, type: 'order.placed', v: 1, key: `c-${j % 1000}`, ts, data: { orderId: `o-${j}`, amountMinor: 1000 + (j % 5000), currency: 'EUR', lines: [{ sku: 'sku-1', qty: 2 }] } }));
  await p.exec();
}
await redis.xgroup('CREATE', key, 'g', '0');
redis.disconnect();

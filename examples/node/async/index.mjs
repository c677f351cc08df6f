// The classic AWS Lambda async handler as an ES module, run unmodified by Hearth's Node runtime.
//
// Deploy, handler index.handler:
//   tar -C examples/node/async -czf order.tgz . &&
//   curl -X PUT http://127.0.0.1:8080/system/functions/order -F 'config={"runtime":"node"}' -F code=@order.tgz
// Send:   curl -X POST http://127.0.0.1:8080/function/order \
//           -d '{"items":[{"name":"tea","price":3.5,"quantity":2},{"name":"cake","price":4,"quantity":1}]}'
// Back:   200 {"items":2,"subtotal":11,"tax":2.2,"total":13.2,"currency":"EUR","requestId":"<id>"}
// Send:   curl -X POST http://127.0.0.1:8080/function/order -d '{}'
// Back:   502 {"errorType":"TypeError","errorMessage":"items must be an array of {name, price, quantity}","stackTrace":[...]}
// The function's environment may set CURRENCY and TAX_RATE (deploy config "environment").

// Stand-in for loading configuration or secrets (a parameter store, a file): asynchronous work that
// top-level await runs once per container, before the first request.
async function loadConfig() {
  return { currency: process.env.CURRENCY ?? "EUR", taxRate: Number(process.env.TAX_RATE ?? 0.2) };
}
const config = await loadConfig();

const cents = (amount) => Math.round(amount * 100) / 100;

export const handler = async (event, context) => {
  if (!Array.isArray(event.items)) throw new TypeError("items must be an array of {name, price, quantity}");
  const subtotal = cents(event.items.reduce((sum, item) => sum + item.price * item.quantity, 0));
  const tax = cents(subtotal * config.taxRate);
  console.log("order of %d items, total %d %s", event.items.length, subtotal + tax, config.currency);
  return { items: event.items.length, subtotal, tax, total: cents(subtotal + tax), currency: config.currency, requestId: context.awsRequestId };
};

// The classic AWS Lambda callback handler (CommonJS), run unmodified by Hearth's Node runtime.
//
// Deploy, handler index.handler:
//   tar -C examples/node/callback -czf greet.tgz . &&
//   curl -X PUT http://127.0.0.1:8080/system/functions/greet -F 'config={"runtime":"node"}' -F code=@greet.tgz
// Send:   curl -X POST http://127.0.0.1:8080/function/greet -d '{"name":"Ada"}'
// Back:   200 {"message":"Hello, Ada!","requestId":"<id>","invocation":1}
//         (invocation counts up while the container stays warm)
// Send:   curl -X POST http://127.0.0.1:8080/function/greet -d '{}'
// Back:   502 {"errorType":"ValidationError","errorMessage":"name is required","stackTrace":[...]}
"use strict";

// Module scope lives as long as the warm container: state and connections survive between requests.
let invocations = 0;

// Stand-in for a database pool's keep-alive timer, which stays scheduled between requests.
setInterval(() => {}, 60_000);

class ValidationError extends Error {
  constructor(message) {
    super(message);
    this.name = "ValidationError";
  }
}

// Stand-in for a lookup with a callback API (a database driver, fs, an HTTP client).
function lookUpGreeting(name, done) {
  setTimeout(() => done(null, `Hello, ${name}!`), 10);
}

exports.handler = (event, context, callback) => {
  // Answer as soon as the callback is called, without waiting for the pool's timer to end (it never does).
  context.callbackWaitsForEmptyEventLoop = false;
  invocations += 1;
  if (typeof event.name !== "string" || event.name === "") return callback(new ValidationError("name is required"));
  console.log("greeting %s", event.name);
  lookUpGreeting(event.name, (error, message) => {
    if (error) return callback(error);
    callback(null, { message, requestId: context.awsRequestId, invocation: invocations });
  });
};

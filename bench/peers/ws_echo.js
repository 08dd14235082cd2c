// ws_echo.js: a WebSocket echo server on Node's `ws` package, the "popular
// runtime" peer of bench/ws.sh.
//
//   NODE_PATH=/usr/share/nodejs node bench/peers/ws_echo.js PORT READY_FILE
//
// (Debian's node-ws lives in /usr/share/nodejs.) Listens on 127.0.0.1:PORT
// (0: any free port), accepts the upgrade on any path and echoes every
// message back, text as text and binary as binary. No permessage-deflate.
// Once listening it writes {"http": "127.0.0.1:PORT"} to READY_FILE, via a
// temporary file and a rename like the other peers (bench/bench_util.hpp),
// so a poller never reads half of it. SIGTERM / SIGINT: exits 0.
'use strict';

const fs = require('fs');
const { WebSocketServer } = require('ws');

const [portArg, readyFile] = process.argv.slice(2);
const port = Number(portArg);
if (!Number.isInteger(port) || port < 0 || port > 65535 || !readyFile) {
  console.error('usage: node ws_echo.js PORT READY_FILE');
  process.exit(2);
}

const server = new WebSocketServer({
  host: '127.0.0.1',
  port,
  perMessageDeflate: false,
  maxPayload: 1 << 20, // the node's default ws.max-message
});

server.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on('error', () => socket.terminate()); // a reset peer must not kill the server
});

server.on('listening', () => {
  const bound = server.address();
  const tmp = `${readyFile}.tmp`;
  fs.writeFileSync(tmp, `{"http": "${bound.address}:${bound.port}"}\n`);
  fs.renameSync(tmp, readyFile);
});

server.on('error', (err) => {
  console.error(`ws_echo.js: ${err.message}`);
  process.exit(1);
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));

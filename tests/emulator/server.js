// Starts the telegram-test-api emulator on 127.0.0.1 for the end-to-end tests.
// Usage: node server.js PORT
const TelegramServer = require('telegram-test-api');

const port = Number(process.argv[2] || 9000);
const server = new TelegramServer({ port, host: '127.0.0.1', storeTimeout: 600 });
server.start().then(() => {
  console.log(`EMULATOR_READY ${server.config.apiURL}`);
});
const stop = () => server.stop().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

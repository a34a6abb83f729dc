// Starts the telegram-test-api emulator on 127.0.0.1 for the end-to-end tests.
// Usage: node server.js PORT
const TelegramServer = require('telegram-test-api');
const { routes } = require('telegram-test-api/lib/routes/index');

// Bot API methods the package lacks (it answers them 500): the bot's command menu and its
// typing indicator. Each call is answered like Telegram (ok, true) and recorded, with its
// time, so tests can read what the bot sent: POST /botCalls {token, method?}.
const recorded = [];
const parse = (value) => {
  if (typeof value !== 'string') return value;
  try { return JSON.parse(value); } catch (e) { return value; }
};
const RECORDED_METHODS = ['setMyCommands', 'deleteMyCommands', 'sendChatAction'];
// Registered before the package's own routes (its catch-all answers unknown methods 500).
routes.unshift((app) => {
  app.post('/bot:token/:method(' + RECORDED_METHODS.join('|') + ')', (req, res) => {
    const params = {};
    for (const [key, value] of Object.entries(req.body || {})) params[key] = parse(value);
    recorded.push({ token: req.params.token, method: req.params.method, params, time: Date.now() });
    res.json({ ok: true, result: true });
  });
  app.post('/botCalls', (req, res) => {
    const { token, method } = req.body || {};
    const calls = recorded.filter((c) => c.token === token && (!method || c.method === method));
    res.json({ ok: true, result: calls });
  });
});

const port = Number(process.argv[2] || 9000);
const server = new TelegramServer({ port, host: '127.0.0.1', storeTimeout: 600 });
server.start().then(() => {
  console.log(`EMULATOR_READY ${server.config.apiURL}`);
});
const stop = () => server.stop().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

// A small invoice API on plain node:http (Node >= 20, no build step), every route guarded by
// Tollgate through tollgate/client. Configuration comes from the environment (see README.md).
import { createServer } from 'node:http';
import { createDecider, expressPermissions } from 'tollgate/client';

function setting(name) {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`invoice service: ${name} is required\n`);
    process.exit(2);
  }
  return value;
}

const audience = setting('INVOICE_API_AUDIENCE');
const decider = createDecider({
  issuer: setting('TOLLGATE_ISSUER'),
  clientId: setting('TOLLGATE_CLIENT_ID'),
  clientSecret: setting('TOLLGATE_CLIENT_SECRET'),
});
const { requirePermission } = expressPermissions(decider);

// The service's own data: the attributes the policy looks at live here, not in Tollgate.
const invoices = new Map([
  ['inv-1', { id: 'inv-1', tenant: 'acme', status: 'open', amount: 120 }],
  ['inv-2', { id: 'inv-2', tenant: 'acme', status: 'paid', amount: 80 }],
  ['inv-3', { id: 'inv-3', tenant: 'globex', status: 'open', amount: 300 }],
]);

// An unknown id is decided without attributes (denied), so a 403 never tells whether it exists.
const invoiceResource = (req) => {
  const invoice = invoices.get(req.params.id);
  return {
    type: 'Invoice',
    id: req.params.id,
    attrs: invoice ? { tenant: invoice.tenant, status: invoice.status } : {},
  };
};

const routes = [
  {
    method: 'GET',
    path: /^\/invoices$/,
    // A list: one checkMany for every invoice, answered in order.
    async handle(req, res) {
      const token = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (!token)
        return send(res, 401, {
          error: 'invalid_token',
          error_description: 'a Bearer access token is required',
        });
      const all = [...invoices.values()];
      const decisions = await decider.checkMany({
        subject: { token, audience },
        checks: all.map((invoice) => ({
          action: 'read',
          resource: invoiceResource({ params: { id: invoice.id } }),
        })),
      });
      send(res, 200, { invoices: all.filter((_, index) => decisions[index].allow) });
    },
  },
  {
    method: 'GET',
    path: /^\/invoices\/([\w-]{1,64})$/,
    guard: requirePermission('read', invoiceResource, { audience }),
    handle: (req, res) => send(res, 200, invoices.get(req.params.id)),
  },
  {
    method: 'POST',
    path: /^\/invoices\/([\w-]{1,64})\/void$/,
    guard: requirePermission('update', invoiceResource, { audience }),
    handle(req, res) {
      const invoice = invoices.get(req.params.id);
      invoice.status = 'void';
      send(res, 200, invoice);
    },
  },
];

function send(res, status, body) {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

function failed(res, error) {
  // Tollgate refused the service itself (e.g. a wrong secret): the operator's problem, not the user's.
  process.stderr.write(`invoice service: ${error.message}\n`);
  if (!res.headersSent) send(res, 500, { error: 'server_error', error_description: 'see the service log' });
}

const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const route = routes.find((candidate) => candidate.method === req.method && candidate.path.test(path));
  if (!route) return send(res, 404, { error: 'not_found', error_description: `${req.method} ${path}` });
  req.params = { id: route.path.exec(path)[1] };
  const handle = () => Promise.resolve(route.handle(req, res)).catch((error) => failed(res, error));
  if (!route.guard) return handle();
  route.guard(req, res, (error) => (error ? failed(res, error) : handle()));
});

server.listen(Number(process.env.PORT ?? 3001), '127.0.0.1', () => {
  process.stdout.write(
    `invoice service listening on http://127.0.0.1:${server.address().port} (Node ${process.version})\n`,
  );
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
